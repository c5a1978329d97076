//! Every graph kogi adds to or builds beside a model, in one place and one way: the few ONNX
//! protobuf messages needed, declared with `prost`, written as bytes that ONNX Runtime loads.
//!
//! What kogi adds to a decoder's graph when it opens it for the GPU: the greedy choice at the last
//! position and the next decode step's inputs, computed where the logits are. A decode step is then
//! one ONNX Runtime run (one CUDA-graph replay) that leaves the next step's ids and attention mask in
//! device buffers, and only 8 bytes (the id and its log-probability) cross to the host.
//!
//! The additions are made to the model's bytes at load time, so they work on any decoder export (the
//! onnxruntime-genai builder's or kogi's own) and the file is not changed. They are a second
//! `graph` field appended to the serialized `ModelProto`: protobuf parsers merge repeated occurrences
//! of a message field, so its nodes and outputs are appended to the model's own. (ONNX Runtime's
//! model-editor API cannot do this here: the `ort` crate cannot open an editor session over an
//! existing model with this library — it asks an unfinalized session for its inputs' memory info.)
//!
//! Beside a model kogi builds two small head models the same way: the greedy head (argmax and
//! log-probability of chosen positions) and the verification head (the same at every position of a
//! speculative pass).

use ort::value::TensorElementType;
use prost::Message;

/// `[batch, 2]` float32: the argmax id at the last position (exact: ids < 2^24) and its
/// log-probability (max − logsumexp, in float32).
pub const PICKED: &str = "kogi_picked";
/// `[batch, sequence]` int64: the ids shifted left by one with the choice appended — what the next
/// step feeds, both for one-row steps (just the choice) and for two-row exact steps (previous, choice).
pub const NEXT_IDS: &str = "kogi_next_ids";
/// `[batch, window]` int64: the attention mask with one more attended position. Only the number of
/// ones matters to GroupQueryAttention (it reads the lengths from the sum), so the mask is rotated:
/// its first column (always attended) is prepended and its last column dropped.
pub const NEXT_MASK: &str = "kogi_next_mask";

/// Oldest default-domain opset the additions are written for (`Slice` with inputs, `Constant` with
/// `value_ints`, `ArgMax` with `keepdims`).
const MIN_OPSET: i64 = 13;

use crate::inference::onnx_proto::{self as onnx, AttributeProto, FLOAT, GraphProto, INT64, ModelProto, Nodes, OperatorSetIdProto, ValueInfoProto, int, ints, value as tensor};


/// The ONNX element type of a tensor type ONNX Runtime reports.
fn elem_type(t: TensorElementType) -> Result<i32, String> {
    Ok(match t {
        TensorElementType::Float32 => FLOAT,
        TensorElementType::Float16 => 10,
        TensorElementType::Bfloat16 => 16,
        TensorElementType::Float64 => 11,
        TensorElementType::Int64 => INT64,
        other => return Err(format!("logits of type {other:?} are not supported")),
    })
}

/// The version of the default ONNX domain in a serialized `ModelProto` (its `opset_import`).
pub fn default_opset(model: &[u8]) -> Result<i64, String> {
    let m = onnx::ModelOpsets::decode(model).map_err(|e| format!("model.onnx is not a readable ONNX model ({e})"))?;
    m.opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| "model.onnx imports no default ONNX opset".into())
}

/// The model `model` (a serialized `ModelProto`) with the step outputs added.
pub fn with_step_outputs(model: &[u8]) -> Result<Vec<u8>, String> {
    let opset = default_opset(model)?;
    if opset < MIN_OPSET {
        return Err(format!("the model's default opset ({opset}) is older than the step outputs need ({MIN_OPSET})"));
    }
    let mut g = Nodes::default();
    let mut node = |op: &str, name: &str, inputs: &[&str], out: &str, attrs: Vec<AttributeProto>| {
        g.add(op, format!("kogi/{name}"), inputs, &[out], attrs);
    };
    for (name, v) in [("minus_one", -1i64), ("zero", 0), ("one", 1), ("end", i64::MAX)] {
        node("Constant", name, &[], &format!("kogi/{name}"), vec![ints("value_ints", &[v])]);
    }
    let (m1, zero, one, end) = ("kogi/minus_one", "kogi/zero", "kogi/one", "kogi/end");
    // The choice at the last position, in float32 whatever the logits' type.
    node("Slice", "last", &["logits", m1, end, one], "kogi/last", vec![]);
    node("Cast", "last_f32", &["kogi/last"], "kogi/last_f32", vec![int("to", FLOAT as i64)]);
    // The log-probability costs ~1% of a 3B step on an H200 (measured against an argmax alone); a
    // LogSoftmax-based head was no faster.
    node("ArgMax", "argmax", &["kogi/last_f32"], "kogi/ids", vec![int("axis", -1), int("keepdims", 0)]);
    for (op, out) in [("ReduceMax", "kogi/top"), ("ReduceLogSumExp", "kogi/lse")] {
        // The reductions take their axes as an input from opset 18, as an attribute before.
        if opset >= 18 {
            node(op, out, &["kogi/last_f32", m1], out, vec![int("keepdims", 0)]);
        } else {
            node(op, out, &["kogi/last_f32"], out, vec![ints("axes", &[-1]), int("keepdims", 0)]);
        }
    }
    node("Sub", "logprob", &["kogi/top", "kogi/lse"], "kogi/logprob", vec![]);
    node("Cast", "ids_f32", &["kogi/ids"], "kogi/ids_f32", vec![int("to", FLOAT as i64)]);
    node("Concat", "picked", &["kogi/ids_f32", "kogi/logprob"], PICKED, vec![int("axis", 1)]);
    // The next step's inputs.
    node("Slice", "ids_tail", &["input_ids", one, end, one], "kogi/ids_tail", vec![]);
    node("Concat", "next_ids", &["kogi/ids_tail", "kogi/ids"], NEXT_IDS, vec![int("axis", 1)]);
    node("Slice", "mask_first", &["attention_mask", zero, one, one], "kogi/mask_first", vec![]);
    node("Slice", "mask_rest", &["attention_mask", zero, m1, one], "kogi/mask_rest", vec![]);
    node("Concat", "next_mask", &["kogi/mask_first", "kogi/mask_rest"], NEXT_MASK, vec![int("axis", 1)]);
    let output = vec![
        tensor(PICKED, FLOAT, &["batch", "2"]),
        tensor(NEXT_IDS, INT64, &["batch", "sequence"]),
        tensor(NEXT_MASK, INT64, &["batch", "total_sequence_length"]),
    ];
    let addition = ModelProto { graph: Some(GraphProto { node: g.0, output, ..Default::default() }), ..Default::default() };
    let mut out = model.to_vec();
    addition.encode(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Which of kogi's CPU kernels a decoder's nodes move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnKernels {
    /// `GroupQueryAttention` ([`super::attention`]).
    pub attention: bool,
    /// `MatMulNBits` of 4 or 8 bits in blocks of 32 with int8 activations ([`super::nbits`]).
    pub matmul: bool,
}

/// A decoder with nodes on kogi's CPU kernels.
pub struct Switched {
    pub model: Vec<u8>,
    /// Every attention and int4 product node is on kogi's kernels, whose result for a row does not
    /// depend on how many rows its pass has (prompts of more than [`super::attention::MAX_STEP_ROWS`]
    /// aside): one-row steps then compute what a speculative verification pass computes.
    pub rows_independent: bool,
    /// Query heads a row puts in the attention kernel's lanes (every attention node's alike), when
    /// attention is on kogi's kernel.
    pub heads_per_kv: Option<usize>,
    /// Weights packed for kogi's int4/8-bit kernels, to be kept until the session is built.
    pub parked: super::nbits::Parked,
}

/// The model `model` with the nodes `which` names moved to kogi's CPU kernels, or `None` when it
/// has none. The domain name is rewritten in place (same length, so no enclosing length changes)
/// and the domain's opset is appended as a second `opset_import` (repeated fields merge). Other
/// fields are left byte for byte as they are.
/// `folder` is where the model's external data lives (weights there are packed at load too).
pub fn with_own_kernels(model: &[u8], which: OwnKernels, folder: Option<&std::path::Path>) -> Result<Option<Switched>, String> {
    const MS: &[u8] = b"com.microsoft";
    let mut out = model.to_vec();
    let mut switched = 0;
    let mut left = 0;
    let mut groups = std::collections::BTreeSet::new();
    let mut which = which;
    for graph in fields(model, 0..model.len(), 7)? {
        // kogi's attention keeps the cache in half precision: its nodes move only if the cache
        // tensors are theirs alone, and then the graph's cache inputs and outputs become float16.
        if which.attention {
            match half_caches(model, &mut out, graph.clone())? {
                Ok(()) => {}
                Err(why) => {
                    tracing::info!(%why, "attention stays on ONNX Runtime's kernel");
                    which.attention = false;
                }
            }
        }
        // Names of the graph's uint8 initializers (zero points the kernel can take).
        let uint8: std::collections::HashSet<String> = if which.matmul {
            initializers(model, graph.clone())?.0.into_iter().filter(|(_, (t, _))| *t == 2).map(|(name, _)| name).collect()
        } else {
            Default::default()
        };
        for node in fields(model, graph, 1)? {
            let op = fields(model, node.clone(), 4)?;
            let domain = fields(model, node.clone(), 7)?;
            let ([op], [dom]) = (&op[..], &domain[..]) else { continue };
            if &model[dom.clone()] != MS {
                continue;
            }
            let take = match &model[op.clone()] {
                b"GroupQueryAttention" => which.attention,
                b"MatMulNBits" => which.matmul && nbits_fits(&onnx::NodeProto::decode(&model[node.clone()]).map_err(|e| e.to_string())?, &uint8),
                _ => false,
            };
            if take {
                if &model[op.clone()] == b"GroupQueryAttention" {
                    let n = onnx::NodeProto::decode(&model[node.clone()]).map_err(|e| e.to_string())?;
                    let attr = |name: &str| n.attribute.iter().find(|a| a.name == name).and_then(|a| a.i).unwrap_or(0);
                    let (q, kv) = (attr("num_heads"), attr("kv_num_heads"));
                    groups.insert(if kv > 0 { q / kv } else { 0 });
                }
                out[dom.clone()].copy_from_slice(super::DOMAIN.as_bytes());
                switched += 1;
            } else if matches!(&model[op.clone()], b"GroupQueryAttention" | b"MatMulNBits") {
                left += 1;
            }
        }
    }
    if switched == 0 {
        return Ok(None);
    }
    let mut parked = super::nbits::Parked::default();
    if which.matmul {
        out = fold_minimums(&out)?;
        out = park_weights(&out, folder, &mut parked)?;
    }
    ModelProto { opset_import: vec![OperatorSetIdProto { domain: super::DOMAIN.into(), version: 1 }], ..Default::default() }
        .encode(&mut out)
        .map_err(|e| e.to_string())?;
    let heads_per_kv = match (groups.len(), groups.first()) {
        (1, Some(&g)) if g > 0 => Some(g as usize),
        _ => None,
    };
    Ok(Some(Switched { model: out, rows_independent: left == 0, heads_per_kv, parked }))
}

/// The cache tensors of the graph at `graph` (the past inputs and present outputs of its
/// `GroupQueryAttention` nodes) declared float16 in `out` wherever they are declared float (inputs,
/// outputs, value infos; one byte each), or why not: another node reads or writes one of them, or a
/// declaration is not float.
fn half_caches(model: &[u8], out: &mut [u8], graph: std::ops::Range<usize>) -> Result<Result<(), String>, String> {
    use std::collections::HashSet;
    let mut caches: HashSet<String> = HashSet::new();
    let mut others: Vec<String> = Vec::new();
    for node in fields(model, graph.clone(), 1)? {
        let n = onnx::NodeProto::decode(&model[node]).map_err(|e| e.to_string())?;
        if n.op_type == "GroupQueryAttention" && n.domain == "com.microsoft" {
            caches.extend(n.input.iter().skip(3).take(2).chain(n.output.iter().skip(1).take(2)).filter(|x| !x.is_empty()).cloned());
            others.extend(n.input.iter().take(3).chain(n.input.iter().skip(5)).chain(n.output.iter().take(1)).cloned());
        } else {
            others.extend(n.input.iter().chain(&n.output).cloned());
        }
    }
    if let Some(x) = others.iter().find(|x| caches.contains(*x)) {
        return Ok(Err(format!("the cache tensor {x} is used by other nodes")));
    }
    let mut edits = Vec::new();
    for field in [11, 12, 13] {
        for info in fields(model, graph.clone(), field)? {
            let name = fields(model, info.clone(), 1)?.into_iter().next().map(|r| String::from_utf8_lossy(&model[r]).into_owned()).unwrap_or_default();
            if !caches.contains(&name) {
                continue;
            }
            for ty in fields(model, info.clone(), 2)? {
                for tensor in fields(model, ty, 1)? {
                    for r in records(model, tensor)? {
                        if r.tag == 1 && !r.delimited {
                            // A one-byte varint: FLOAT (1) becomes FLOAT16 (10), same length.
                            if r.whole.len() != 2 || model[r.whole.start + 1] != 1 {
                                return Ok(Err(format!("the cache tensor {name} is not float")));
                            }
                            edits.push(r.whole.start + 1);
                        }
                    }
                }
            }
        }
    }
    for at in edits {
        out[at] = 10;
    }
    Ok(Ok(()))
}

/// kogi's conversions of blocks with minimums (Q4_1, Q4_K, Q5_*: `d·q + m`) add the minimums on a
/// second path, `Add(MatMulNBits(x), MatMul(ReduceSum(Reshape(x, [0, 0, kb, 32]), -1), mins[kb][n]))`:
/// four more nodes per product, a third of a CPU step's kernel time and most of its nodes. For
/// products on kogi's kernel the minimums become the node's fifth input ([`super::nbits`] adds
/// `mins · (block scale · block sum)` of the int8 activations, as llama.cpp's Q8_1 blocks do) and the
/// path's nodes go. Nodes that do not read back byte for byte, and anything not of this exact
/// shape, stay as they are.
fn fold_minimums(model: &[u8]) -> Result<Vec<u8>, String> {
    use std::collections::{HashMap, HashSet};
    let Some(graph) = fields(model, 0..model.len(), 7)?.into_iter().next() else { return Ok(model.to_vec()) };
    let (inits, longs) = initializers(model, graph.clone())?;
    let fieldset = records(model, graph.clone())?;
    let mut nodes: Vec<(usize, onnx::NodeProto)> = Vec::new();
    for (i, r) in fieldset.iter().enumerate() {
        if r.tag == 1 {
            nodes.push((i, onnx::NodeProto::decode(&model[r.payload.clone()]).map_err(|e| e.to_string())?));
        }
    }
    let mut producer: HashMap<&str, usize> = HashMap::new();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, n)) in nodes.iter().enumerate() {
        for o in &n.output {
            producer.insert(o, j);
        }
        for x in n.input.iter().filter(|x| !x.is_empty()) {
            consumers.entry(x).or_default().push(j);
        }
    }
    let only = |name: &str, j: usize| consumers.get(name).is_some_and(|c| c == &[j]);
    let made = |name: &str, op: &str| producer.get(name).copied().filter(|&j| nodes[j].1.op_type == op && nodes[j].1.domain.is_empty());
    let mut drop: HashSet<usize> = HashSet::new();
    let mut changed: HashMap<usize, onnx::NodeProto> = HashMap::new();
    for (a, (_, add)) in nodes.iter().enumerate() {
        if add.op_type != "Add" || !add.domain.is_empty() || add.input.len() != 2 || add.output.len() != 1 {
            continue;
        }
        let attr = |n: &onnx::NodeProto, name: &str| n.attribute.iter().find(|x| x.name == name).and_then(|x| x.i);
        let found = (|| {
            let &nb = producer.get(add.input[0].as_str())?;
            let node = &nodes[nb].1;
            if node.op_type != "MatMulNBits" || node.domain != super::DOMAIN || node.input.len() > 4 || !only(&add.input[0], a) {
                return None;
            }
            let mm = made(&add.input[1], "MatMul").filter(|_| only(&add.input[1], a))?;
            let (k, n, block) = (attr(node, "K")? as usize, attr(node, "N")? as usize, attr(node, "block_size")? as usize);
            let kb = k / block.max(1);
            let mins = nodes[mm].1.input.get(1)?;
            (inits.get(mins.as_str())? == &(1, vec![kb as i64, n as i64])).then_some(())?;
            let rs = &nodes[made(nodes[mm].1.input.first()?, "ReduceSum")?].1;
            (attr(rs, "keepdims") == Some(0) && longs.get(rs.input.get(1)?)? == &[-1]).then_some(())?;
            let rsh = &nodes[made(rs.input.first()?, "Reshape")?].1;
            let shape = longs.get(rsh.input.get(1)?)?;
            (rsh.input.first()? == &node.input[0] && shape == &[0, 0, kb as i64, block as i64]).then_some(())?;
            // The node is rewritten from its decoded form: only if that reads back byte for byte.
            (node.encode_to_vec() == model[fieldset[nodes[nb].0].payload.clone()]).then_some(())?;
            Some((nb, mm, mins.clone()))
        })();
        let Some((nb, mm, mins)) = found else { continue };
        let mut node = nodes[nb].1.clone();
        node.input.resize(4, String::new());
        node.input.push(mins);
        node.output = add.output.clone();
        changed.insert(nb, node);
        drop.extend([a, mm]);
    }
    if changed.is_empty() {
        return Ok(model.to_vec());
    }
    // Block sums no product reads any more go too.
    for (j, (_, n)) in nodes.iter().enumerate() {
        if n.op_type == "ReduceSum" && n.domain.is_empty() && n.output.iter().all(|o| consumers.get(o.as_str()).is_some_and(|c| !c.is_empty() && c.iter().all(|c| drop.contains(c)))) {
            let reshape = n.input.first().and_then(|x| made(x, "Reshape"));
            drop.insert(j);
            if let Some(r) = reshape.filter(|&r| nodes[r].1.output.iter().all(|o| only(o, j))) {
                drop.insert(r);
            }
        }
    }
    let drop: HashSet<usize> = drop.iter().map(|j| nodes[*j].0).collect();
    let changed: HashMap<usize, onnx::NodeProto> = changed.into_iter().map(|(j, n)| (nodes[j].0, n)).collect();
    with_graph(model, &fieldset, &drop, &changed)
}

/// A tensor's bytes from its external data file (`location` under `folder`, `offset`, `length`).
fn external_bytes(folder: &std::path::Path, entries: &[onnx::StringStringEntryProto]) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let get = |key: &str| entries.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    let location = std::path::Path::new(get("location")?);
    // As ONNX Runtime: a file beside the model, never outside its folder.
    if location.is_absolute() || location.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return None;
    }
    let offset: u64 = get("offset").map_or(Some(0), |v| v.parse().ok())?;
    let length: usize = get("length")?.parse().ok()?;
    let mut file = std::fs::File::open(folder.join(location)).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut bytes = vec![0u8; length];
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// `model` with its (first) graph's records `drop` left out and the nodes at records `changed`
/// replaced; every other byte as it was.
fn with_graph(model: &[u8], graph: &[Record], drop: &std::collections::HashSet<usize>, changed: &std::collections::HashMap<usize, onnx::NodeProto>) -> Result<Vec<u8>, String> {
    let mut new_graph = Vec::with_capacity(graph.iter().map(|r| r.whole.len()).sum());
    for (i, r) in graph.iter().enumerate() {
        if drop.contains(&i) {
            continue;
        }
        match changed.get(&i) {
            Some(node) => prost::encoding::message::encode(1, node, &mut new_graph),
            None => new_graph.extend_from_slice(&model[r.whole.clone()]),
        }
    }
    let mut out = Vec::with_capacity(model.len());
    let mut done = false;
    for r in records(model, 0..model.len())? {
        if r.tag == 7 && !done {
            prost::encoding::encode_key(7, prost::encoding::WireType::LengthDelimited, &mut out);
            prost::encoding::encode_varint(new_graph.len() as u64, &mut out);
            out.extend_from_slice(&new_graph);
            done = true;
        } else {
            out.extend_from_slice(&model[r.whole]);
        }
    }
    Ok(out)
}

/// kogi's `MatMulNBits` nodes with their weights packed now, into `parked`, rather than by their
/// kernel from ONNX Runtime's copy, which ONNX Runtime would keep for the session's life beside the
/// packed one (its own kernel frees what it prepacks; a custom kernel cannot). Such a node keeps only
/// its input `x` and names its weights in a `packed` attribute; initializers no other node reads go.
/// Weights in external data are read from `folder`. Nodes whose weights are not all initializers
/// with raw bytes stay as they are.
fn park_weights(model: &[u8], folder: Option<&std::path::Path>, parked: &mut super::nbits::Parked) -> Result<Vec<u8>, String> {
    use std::collections::{HashMap, HashSet};
    let Some(graph) = fields(model, 0..model.len(), 7)?.into_iter().next() else { return Ok(model.to_vec()) };
    let recs = records(model, graph.clone())?;
    let name_of = |r: &Record, field: u32| -> Result<Option<String>, String> {
        Ok(fields(model, r.payload.clone(), field)?.into_iter().next().map(|n| String::from_utf8_lossy(&model[n]).into_owned()))
    };
    let mut readers: HashMap<String, usize> = HashMap::new();
    let mut exposed: HashSet<String> = HashSet::new();
    let mut inits: HashMap<String, usize> = HashMap::new();
    let mut nodes = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        match r.tag {
            1 => {
                let node = onnx::NodeProto::decode(&model[r.payload.clone()]).map_err(|e| e.to_string())?;
                for x in node.input.iter().filter(|x| !x.is_empty()) {
                    *readers.entry(x.clone()).or_default() += 1;
                }
                nodes.push((i, node));
            }
            5 => {
                if let Some(name) = name_of(r, 8)? {
                    inits.insert(name, i);
                }
            }
            11 | 12 => exposed.extend(name_of(r, 1)?),
            _ => {}
        }
    }
    let tensor = |name: &str| -> Option<onnx::TensorProto> {
        if exposed.contains(name) {
            return None;
        }
        let mut t = onnx::TensorProto::decode(&model[recs[*inits.get(name)?].payload.clone()]).ok()?;
        if t.data_location == 1 {
            t.raw_data = external_bytes(folder?, &t.external_data)?;
        }
        (!t.raw_data.is_empty()).then_some(t)
    };
    let floats = |t: &onnx::TensorProto| (t.data_type == FLOAT).then(|| t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect::<Vec<f32>>());
    let mut changed: HashMap<usize, onnx::NodeProto> = HashMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (i, node) in &nodes {
        if node.op_type != "MatMulNBits" || node.domain != super::DOMAIN || !(3..=5).contains(&node.input.len()) {
            continue;
        }
        let attr = |name: &str| node.attribute.iter().find(|a| a.name == name).and_then(|a| a.i).map(|v| v.max(0) as usize);
        let (Some(n), Some(k), Some(bits), Some(block)) = (attr("N"), attr("K"), attr("bits"), attr("block_size")) else { continue };
        // Re-encoded from the decoded form: only if that reads back byte for byte.
        if node.encode_to_vec() != model[recs[*i].payload.clone()] {
            continue;
        }
        let wanted = |j: usize| node.input.get(j).filter(|x| !x.is_empty());
        let found = (|| {
            let b = tensor(wanted(1)?)?;
            let scales = floats(&tensor(wanted(2)?)?)?;
            let zeros = match wanted(3) {
                Some(z) => Some(tensor(z).filter(|t| t.data_type == 2)?.raw_data),
                None => None,
            };
            let mins = match wanted(4) {
                Some(m) => Some(floats(&tensor(m)?)?),
                None => None,
            };
            (b.data_type == 2).then_some(())?;
            let w = super::nbits::Weights { n, k, bits: bits as u8, block, b: &b.raw_data, scales: &scales, zeros: zeros.as_deref(), mins: mins.as_deref() };
            super::nbits::Packed::new(&w).ok()
        })();
        let Some(packed) = found else { continue };
        let mut node = node.clone();
        for x in node.input.drain(1..).filter(|x| !x.is_empty()) {
            *taken.entry(x).or_default() += 1;
        }
        node.attribute.push(int("packed", parked.park(packed)));
        changed.insert(*i, node);
    }
    if changed.is_empty() {
        return Ok(model.to_vec());
    }
    let drop: HashSet<usize> = taken.iter().filter(|(name, n)| readers.get(*name) == Some(n)).filter_map(|(name, _)| inits.get(name).copied()).collect();
    with_graph(model, &recs, &drop, &changed)
}

/// One field of a message: its number, its bytes with key and length, and its payload.
struct Record {
    tag: u32,
    delimited: bool,
    whole: std::ops::Range<usize>,
    payload: std::ops::Range<usize>,
}

/// Every field of the message at `within`, in order.
fn records(bytes: &[u8], within: std::ops::Range<usize>) -> Result<Vec<Record>, String> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    let bad = |e: prost::DecodeError| format!("model.onnx is not a readable ONNX model ({e})");
    let mut buf = &bytes[within.clone()];
    let mut out = Vec::new();
    while !buf.is_empty() {
        let at = within.end - buf.len();
        let (tag, wire) = decode_key(&mut buf).map_err(bad)?;
        let len = match wire {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(bad)?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => decode_varint(&mut buf).map_err(bad)? as usize,
            WireType::StartGroup | WireType::EndGroup => return Err("model.onnx holds protobuf groups, which ONNX never writes".into()),
        };
        if len > buf.len() {
            return Err("model.onnx is cut short".into());
        }
        let start = within.end - buf.len();
        buf = &buf[len..];
        out.push(Record { tag, delimited: wire == WireType::LengthDelimited, whole: at..start + len, payload: start..start + len });
    }
    Ok(out)
}

#[derive(Clone, PartialEq, prost::Message)]
struct TensorHeader {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LongTensor {
    #[prost(int64, repeated, tag = "7")]
    int64_data: Vec<i64>,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

type Initializers = (std::collections::HashMap<String, (i32, Vec<i64>)>, std::collections::HashMap<String, Vec<i64>>);

/// The graph's initializers (name → data type and dims), and the values of its small int64 ones
/// (shapes and axes; larger tensors are not read).
fn initializers(model: &[u8], graph: std::ops::Range<usize>) -> Result<Initializers, String> {
    let (mut all, mut longs) = (std::collections::HashMap::new(), std::collections::HashMap::new());
    for t in fields(model, graph, 5)? {
        let h = TensorHeader::decode(&model[t.clone()]).map_err(|e| e.to_string())?;
        if h.data_type == 7 && h.dims.iter().product::<i64>() <= 16 {
            let v = LongTensor::decode(&model[t]).map_err(|e| e.to_string())?;
            let values = if v.int64_data.is_empty() { v.raw_data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect() } else { v.int64_data };
            longs.insert(h.name.clone(), values);
        }
        all.insert(h.name, (h.data_type, h.dims));
    }
    Ok((all, longs))
}

/// Whether a `MatMulNBits` node is one kogi's kernel computes as ONNX Runtime would: 4 or 8 bits,
/// blocks of 16 or 32 over a multiple of 32 inputs, int8 activations (`accuracy_level` 4), no bias or group index, zero points (if
/// any) packed uint8.
fn nbits_fits(node: &onnx::NodeProto, uint8: &std::collections::HashSet<String>) -> bool {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name).and_then(|a| a.i);
    let size = |name: &str| attr(name).map_or(0, |v| v.max(0) as usize);
    let shape_ok = super::nbits::takes(size("bits"), size("block_size"), size("K"));
    let zeros_ok = match node.input.get(3).map(String::as_str) {
        None | Some("") => true,
        Some(z) => uint8.contains(z),
    };
    shape_ok && attr("accuracy_level") == Some(4) && (3..=4).contains(&node.input.len()) && zeros_ok
}

/// The byte ranges of every length-delimited field `number` in the message at `within`.
fn fields(bytes: &[u8], within: std::ops::Range<usize>, number: u32) -> Result<Vec<std::ops::Range<usize>>, String> {
    Ok(records(bytes, within)?.into_iter().filter(|r| r.tag == number && r.delimited).map(|r| r.payload).collect())
}

/// The greedy choices in a `PICKED` tensor's data (`[batch, 2]`).
pub fn read_picked(data: &[f32]) -> (Vec<u32>, Vec<f32>) {
    data.chunks(2).map(|p| (p[0] as u32, p[1])).unzip()
}

// ---------------------------------------------------------------------------------------------
// Head models built beside a decoder and the picks they return.

/// The greedy choice at each of the last `want` positions of each row (`[batch][want]`), with its
/// log-probability under the model's distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub ids: Vec<u32>,
    pub logprobs: Vec<f32>,
}

/// A head model: `nodes` between `inputs` and `outputs`, default opset 17, serialized.
fn head_model(name: &str, nodes: Nodes, input: Vec<ValueInfoProto>, output: Vec<ValueInfoProto>) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        producer_name: "kogi".into(),
        graph: Some(GraphProto { node: nodes.0, name: name.into(), input, output, ..Default::default() }),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
    }
    .encode_to_vec()
}

/// The greedy head: logits `[b, s, vocab]` → for the positions `starts..ends` on axis 1, the argmax
/// id and its log-probability (max − logsumexp), computed in float32.
pub(super) fn greedy_head(logits: TensorElementType) -> Result<Vec<u8>, String> {
    let one = ["one"];
    let input = vec![
        tensor("logits", elem_type(logits)?, &["batch", "sequence", "vocab"]),
        tensor("starts", INT64, &one),
        tensor("ends", INT64, &one),
        tensor("axes", INT64, &one),
    ];
    let output = vec![tensor("ids", INT64, &["batch", "want"]), tensor("logprobs", FLOAT, &["batch", "want"])];
    let mut g = Nodes::default();
    g.add("Slice", "last", &["logits", "starts", "ends", "axes"], &["last"], vec![]);
    g.add("Cast", "to_f32", &["last"], &["last_f32"], vec![int("to", FLOAT as i64)]);
    add_pick_nodes(&mut g, "last_f32", "", "ids", "logprobs");
    Ok(head_model("greedy_head", g, input, output))
}

/// The greedy pick of float32 logits `row` (`[.., 1, vocab]`, one position): `ArgMax` into `id`
/// (int64) and `ReduceMax − ReduceLogSumExp` into `logprob`; node names start with `prefix`.
/// One position at a time: ONNX Runtime's CUDA reductions over `[.., 1, vocab]` are fast, over
/// `[.., k, vocab]` they took ~20 ms for the 8B vocabulary.
fn add_pick_nodes(g: &mut Nodes, row: &str, prefix: &str, id: &str, logprob: &str) {
    g.add("ArgMax", format!("{prefix}argmax"), &[row], &[id], vec![int("axis", -1), int("keepdims", 0)]);
    let (top, lse) = (format!("{prefix}top"), format!("{prefix}lse"));
    for (op, out) in [("ReduceMax", &top), ("ReduceLogSumExp", &lse)] {
        g.add(op, out.clone(), &[row], &[out], vec![ints("axes", &[-1]), int("keepdims", 0)]);
    }
    g.add("Sub", format!("{prefix}logprob"), &[&top, &lse], &[logprob], vec![]);
}

/// The verification head: logits `[1, w, vocab]` (w ≤ `width`) → `picks` `[2 * width]`, the
/// argmax id (as float; ids < 2^24) at positions 0..`width`, then their log-probabilities. The
/// logits are padded to `width` rows so the graph has one shape for every width, and each position
/// is reduced on its own ([`add_pick_nodes`], the greedy head's chain).
pub(super) fn verify_head(logits: TensorElementType, vocab: usize, width: usize) -> Result<Vec<u8>, String> {
    let input = vec![tensor("logits", elem_type(logits)?, &["one", "width", "vocab"])];
    let output = vec![tensor("picks", FLOAT, &["picks"])];
    let mut g = Nodes::default();
    let constant = |g: &mut Nodes, name: &str, v: &[i64]| g.add("Constant", name, &[], &[name], vec![ints("value_ints", v)]);
    g.add("Cast", "to_f32", &["logits"], &["logits_f32"], vec![int("to", FLOAT as i64)]);
    constant(&mut g, "pad_shape", &[1, width as i64, vocab as i64]);
    g.add("ConstantOfShape", "pad", &["pad_shape"], &["pad"], vec![]);
    g.add("Concat", "padded", &["logits_f32", "pad"], &["padded"], vec![int("axis", 1)]);
    constant(&mut g, "axis1", &[1]);
    let (mut ids, mut lps) = (Vec::new(), Vec::new());
    for i in 0..width {
        let p = |s: &str| format!("p{i}_{s}");
        constant(&mut g, &p("start"), &[i as i64]);
        constant(&mut g, &p("end"), &[i as i64 + 1]);
        g.add("Slice", p("slice"), &["padded", &p("start"), &p("end"), "axis1"], &[&p("row")], vec![]);
        add_pick_nodes(&mut g, &p("row"), &p(""), &p("id"), &p("lp"));
        g.add("Cast", p("id_f32"), &[&p("id")], &[&p("id_f")], vec![int("to", FLOAT as i64)]);
        // [1, 1] each: flatten into the output.
        ids.push(p("id_f"));
        lps.push(p("lp"));
    }
    let all: Vec<&str> = ids.iter().chain(&lps).map(String::as_str).collect();
    g.add("Concat", "cat", &all, &["cat"], vec![int("axis", 1)]);
    constant(&mut g, "flat", &[-1]);
    g.add("Reshape", "picks", &["cat", "flat"], &["picks"], vec![]);
    Ok(head_model("verify_head", g, input, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_pairs_split_into_ids_and_logprobs() {
        let (ids, lps) = read_picked(&[5.0, -0.25, 128_255.0, -3.5]);
        assert_eq!(ids, vec![5, 128_255]);
        assert_eq!(lps, vec![-0.25, -3.5]);
    }

    fn model_with_opsets(opsets: &[(&str, i64)]) -> Vec<u8> {
        ModelProto {
            ir_version: 10,
            opset_import: opsets.iter().map(|(d, v)| OperatorSetIdProto { domain: (*d).into(), version: *v }).collect(),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn the_default_opset_is_read_from_the_opset_imports() {
        assert_eq!(default_opset(&model_with_opsets(&[("com.microsoft", 1), ("", 21)])), Ok(21));
        assert_eq!(default_opset(&model_with_opsets(&[("ai.onnx", 14)])), Ok(14));
        assert!(default_opset(&model_with_opsets(&[("com.microsoft", 1)])).is_err());
        assert!(default_opset(&[0x42, 0xff]).unwrap_err().contains("not a readable ONNX model"));
    }

    #[test]
    fn an_old_opset_is_refused_and_the_additions_only_append() {
        assert!(with_step_outputs(&model_with_opsets(&[("", 11)])).unwrap_err().contains("older"));
        let model = model_with_opsets(&[("", 17)]);
        let out = with_step_outputs(&model).unwrap();
        assert!(out.starts_with(&model) && out.len() > model.len());
        // One graph field appended, holding the nodes and the three outputs; the model reads back
        // with the addition merged in.
        let tail = ModelProto::decode(&out[model.len()..]).unwrap();
        assert_eq!(tail.graph.as_ref().unwrap().output.len(), 3);
        assert!(tail.opset_import.is_empty());
        let whole = ModelProto::decode(out.as_slice()).unwrap();
        assert_eq!(whole.opset_import.len(), 1);
        assert_eq!(whole.graph.unwrap().node.len(), tail.graph.unwrap().node.len());
    }

    #[test]
    fn head_models_read_back_with_their_inputs_outputs_and_nodes() {
        let g = ModelProto::decode(greedy_head(TensorElementType::Float16).unwrap().as_slice()).unwrap();
        let graph = g.graph.unwrap();
        assert_eq!(graph.input.len(), 4);
        assert_eq!(graph.input[0].r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().elem_type, 10);
        assert_eq!(graph.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["ids", "logprobs"]);
        let v = ModelProto::decode(verify_head(TensorElementType::Float32, 32, 3).unwrap().as_slice()).unwrap();
        let slices = v.graph.unwrap().node.iter().filter(|n| n.op_type == "Slice").count();
        assert_eq!(slices, 3);
    }

    #[test]
    fn the_cache_becomes_half_precision_only_where_attention_alone_uses_it() {
        let with_own_attention = |m: &[u8]| with_own_kernels(m, OwnKernels { attention: true, matmul: false }, None).unwrap().map(|s| s.model);
        let gqa = |g: &mut Nodes| {
            g.add_in("com.microsoft", "GroupQueryAttention", "attn", &["q", "", "", "past.0.key", "past.0.value", "seqlens", "total"], &["z", "present.0.key", "present.0.value"], vec![]);
        };
        let io = |extra: &[&str]| {
            let mut inputs = vec![tensor("q", FLOAT, &["n"]), tensor("past.0.key", FLOAT, &["b", "h", "s", "d"]), tensor("past.0.value", FLOAT, &["b", "h", "s", "d"])];
            inputs.extend(extra.iter().map(|x| tensor(x, FLOAT, &["n"])));
            let outputs = vec![tensor("z", FLOAT, &["n"]), tensor("present.0.key", FLOAT, &["b", "h", "s", "d"]), tensor("present.0.value", FLOAT, &["b", "h", "s", "d"])];
            (inputs, outputs)
        };
        let types = |m: &[u8]| {
            let g = ModelProto::decode(m).unwrap().graph.unwrap();
            let t = |v: &ValueInfoProto| (v.name.clone(), v.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().elem_type);
            g.input.iter().chain(&g.output).map(t).collect::<Vec<_>>()
        };
        let mut g = Nodes::default();
        gqa(&mut g);
        let (inputs, outputs) = io(&[]);
        let out = with_own_attention(&head_model("m", g, inputs, outputs)).expect("switched");
        let want = |name: &str| if name.contains("past") || name.contains("present") { 10 } else { FLOAT };
        assert!(types(&out).iter().all(|(n, t)| *t == want(n)), "{:?}", types(&out));
        // Another node reading the cache: attention stays on ONNX Runtime's kernel, the types as they were.
        let mut g = Nodes::default();
        gqa(&mut g);
        g.add("Shape", "shape", &["past.0.key"], &["s"], vec![]);
        let (inputs, outputs) = io(&[]);
        let model = head_model("m", g, inputs, outputs);
        assert!(with_own_attention(&model).is_none());
    }

    #[test]
    fn only_attention_nodes_move_to_kogis_kernel_and_everything_else_stays_byte_for_byte() {
        let with_own_attention = |m: &[u8]| with_own_kernels(m, OwnKernels { attention: true, matmul: false }, None).map(|s| s.map(|s| s.model));
        let mut g = Nodes::default();
        g.add_in("com.microsoft", "MatMulNBits", "proj", &["x", "w"], &["y"], vec![]);
        g.add_in("com.microsoft", "GroupQueryAttention", "attn", &["y"], &["z"], vec![int("num_heads", 9)]);
        g.add("Add", "add", &["z", "y"], &["out"], vec![]);
        let model = head_model("m", g, vec![tensor("x", FLOAT, &["n"])], vec![tensor("out", FLOAT, &["n"])]);
        let out = with_own_attention(&model).unwrap().expect("a switched node");
        let m = ModelProto::decode(out.as_slice()).unwrap();
        let nodes = m.graph.unwrap().node;
        let domains: Vec<&str> = nodes.iter().map(|n| n.domain.as_str()).collect();
        assert_eq!(domains, ["com.microsoft", super::super::DOMAIN, ""]);
        assert_eq!(nodes[1].attribute.len(), 1, "attributes kept");
        assert!(m.opset_import.iter().any(|o| o.domain == super::super::DOMAIN));
        assert_eq!(out.len() - model.len(), ModelProto { opset_import: vec![OperatorSetIdProto { domain: super::super::DOMAIN.into(), version: 1 }], ..Default::default() }.encoded_len());
        let mut plain = Nodes::default();
        plain.add("Add", "add", &["x", "x"], &["out"], vec![]);
        assert!(with_own_attention(&head_model("p", plain, vec![], vec![])).unwrap().is_none());
    }

    #[test]
    fn the_heads_a_row_puts_in_lanes_are_known_only_when_every_attention_node_agrees() {
        let heads = |groups: &[(i64, i64)]| {
            let mut g = Nodes::default();
            for (i, &(q, kv)) in groups.iter().enumerate() {
                g.add_in("com.microsoft", "GroupQueryAttention", format!("attn{i}"), &["x"], &[&format!("y{i}")], vec![int("num_heads", q), int("kv_num_heads", kv)]);
            }
            let model = head_model("m", g, vec![tensor("x", FLOAT, &["n"])], vec![]);
            with_own_kernels(&model, OwnKernels { attention: true, matmul: false }, None).unwrap().expect("switched").heads_per_kv
        };
        assert_eq!(heads(&[(9, 3), (9, 3)]), Some(3));
        assert_eq!(heads(&[(12, 2)]), Some(6));
        assert_eq!(heads(&[(9, 3), (8, 2)]), None);
        assert_eq!(heads(&[(9, 0)]), None);
    }

    #[test]
    fn only_matmul_nodes_kogis_kernel_computes_as_onnx_runtime_does_are_switched() {
        let attrs = |bits: i64, block: i64, level: i64| vec![int("K", 64), int("N", 8), int("bits", bits), int("block_size", block), int("accuracy_level", level)];
        let mut g = Nodes::default();
        g.add_in("com.microsoft", "MatMulNBits", "fits", &["x", "b4", "s"], &["y1"], attrs(4, 32, 4));
        g.add_in("com.microsoft", "MatMulNBits", "zeros", &["x", "b4", "s", "z"], &["y2"], attrs(4, 32, 4));
        g.add_in("com.microsoft", "MatMulNBits", "eight", &["x", "b8", "s"], &["y3"], attrs(8, 32, 4));
        g.add_in("com.microsoft", "MatMulNBits", "eight_zeros", &["x", "b8", "s", "z"], &["y4"], attrs(8, 32, 4));
        g.add_in("com.microsoft", "MatMulNBits", "block64", &["x", "b4", "s"], &["y5"], attrs(4, 64, 4));
        g.add_in("com.microsoft", "MatMulNBits", "block16", &["x", "b8", "s", "z"], &["y9"], attrs(8, 16, 4));
        g.add_in("com.microsoft", "MatMulNBits", "float_compute", &["x", "b4", "s"], &["y6"], attrs(4, 32, 0));
        g.add_in("com.microsoft", "MatMulNBits", "bias", &["x", "b4", "s", "", "", "bias"], &["y7"], attrs(4, 32, 4));
        g.add_in("com.microsoft", "MatMulNBits", "float_zeros", &["x", "b4", "s", "s"], &["y8"], attrs(4, 32, 4));
        g.add_in("com.microsoft", "GroupQueryAttention", "attn", &["y1"], &["a"], vec![]);
        let initializer = ["b4", "b8", "z"].map(|n| onnx::TensorProto { name: n.into(), data_type: 2, dims: vec![1], raw_data: vec![0], ..Default::default() }).to_vec();
        let model = ModelProto { graph: Some(GraphProto { node: g.0, initializer, ..Default::default() }), ..Default::default() }.encode_to_vec();
        let out = with_own_kernels(&model, OwnKernels { attention: false, matmul: true }, None).unwrap().expect("switched nodes");
        assert!(!out.rows_independent, "nodes left on ONNX Runtime's kernels");
        let out = out.model;
        let nodes = ModelProto::decode(out.as_slice()).unwrap().graph.unwrap().node;
        let moved: Vec<&str> = nodes.iter().filter(|n| n.domain == super::super::DOMAIN).map(|n| n.name.as_str()).collect();
        assert_eq!(moved, ["fits", "zeros", "eight", "eight_zeros", "block16"]);
        let both = with_own_kernels(&model, OwnKernels { attention: true, matmul: true }, None).unwrap().unwrap().model;
        let nodes = ModelProto::decode(both.as_slice()).unwrap().graph.unwrap().node;
        assert_eq!(nodes.iter().filter(|n| n.domain == super::super::DOMAIN).count(), 6);
    }

    #[test]
    fn weights_are_packed_at_load_and_leave_the_graph_unless_something_else_reads_them() {
        let attrs = vec![int("K", 64), int("N", 16), int("bits", 4), int("block_size", 32), int("accuracy_level", 4)];
        let raw = |name: &str, t: i32, dims: Vec<i64>, bytes: usize| onnx::TensorProto { name: name.into(), data_type: t, dims, raw_data: vec![1; bytes], ..Default::default() };
        let mut g = Nodes::default();
        g.add_in("com.microsoft", "MatMulNBits", "alone", &["x", "b", "s"], &["y"], attrs.clone());
        g.add_in("com.microsoft", "MatMulNBits", "shared", &["x", "b2", "s2"], &["y2"], attrs.clone());
        g.add_in("com.microsoft", "MatMulNBits", "fed", &["x", "b3", "s3"], &["y3"], attrs.clone());
        g.add("Identity", "other", &["b2"], &["copy"], vec![]);
        // b's bytes are external data, 8 bytes into a file beside the model.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w.data"), [vec![0u8; 8], vec![1u8; 512]].concat()).unwrap();
        let entry = |key: &str, value: &str| onnx::StringStringEntryProto { key: key.into(), value: value.into() };
        let external = onnx::TensorProto { raw_data: vec![], data_location: 1, external_data: vec![entry("location", "w.data"), entry("offset", "8"), entry("length", "512")], ..raw("b", 2, vec![16, 2, 16], 0) };
        let initializer = vec![external, raw("s", 1, vec![32], 128), raw("b2", 2, vec![16, 2, 16], 512), raw("s2", 1, vec![32], 128), raw("s3", 1, vec![32], 128)];
        // b3 comes from outside the file: that node's kernel reads it as an input.
        let input = vec![ValueInfoProto { name: "b3".into(), ..Default::default() }];
        let model = ModelProto { graph: Some(GraphProto { node: g.0, initializer, input, ..Default::default() }), ..Default::default() }.encode_to_vec();
        let without_folder = with_own_kernels(&model, OwnKernels { attention: false, matmul: true }, None).unwrap().expect("switched");
        assert_eq!(without_folder.parked.len(), 1, "b's bytes cannot be read without the model's folder");
        let out = with_own_kernels(&model, OwnKernels { attention: false, matmul: true }, Some(dir.path())).unwrap().expect("switched");
        assert_eq!(out.parked.len(), 2);
        let graph = ModelProto::decode(out.model.as_slice()).unwrap().graph.unwrap();
        let kept: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(kept, ["b2", "s3"], "b2 is read by another node; s3's node was not parked");
        let ids: Vec<i64> = graph.node.iter().filter_map(|n| n.attribute.iter().find(|a| a.name == "packed").and_then(|a| a.i)).collect();
        let inputs: Vec<(&str, usize)> = graph.node.iter().filter(|n| n.op_type == "MatMulNBits").map(|n| (n.name.as_str(), n.input.len())).collect();
        assert_eq!(inputs, [("alone", 1), ("shared", 1), ("fed", 3)]);
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(|&id| super::super::nbits::parked(id).is_some()));
        drop(out);
        assert!(ids.iter().all(|&id| super::super::nbits::parked(id).is_none()), "the waiting room empties with the switched model");
    }

    #[test]
    fn block_minimums_fold_into_kogis_int4_node_and_their_path_goes() {
        let attrs = vec![int("K", 64), int("N", 8), int("bits", 4), int("block_size", 32), int("accuracy_level", 4)];
        let longs = |name: &str, v: &[i64]| onnx::TensorProto { name: name.into(), data_type: 7, dims: vec![v.len() as i64], raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(), ..Default::default() };
        let bytes = |name: &str, t: i32, dims: Vec<i64>| onnx::TensorProto { name: name.into(), data_type: t, dims, raw_data: vec![0; 4], ..Default::default() };
        let build = |extra_reader: bool| {
            let mut g = Nodes::default();
            g.add_in("com.microsoft", "MatMulNBits", "mm", &["x", "b", "s", "z"], &["main"], attrs.clone());
            g.add("Reshape", "rsh", &["x", "shape"], &["r"], vec![]);
            g.add("ReduceSum", "rs", &["r", "axes"], &["sums"], vec![int("keepdims", 0)]);
            g.add("MatMul", "mins", &["sums", "m"], &["shift"], vec![]);
            g.add("Add", "add", &["main", "shift"], &["y"], vec![]);
            if extra_reader {
                g.add("Identity", "other", &["sums"], &["sums_too"], vec![]);
            }
            let initializer = vec![bytes("b", 2, vec![8, 2, 16]), bytes("z", 2, vec![8]), bytes("s", 1, vec![16]), bytes("m", 1, vec![2, 8]), longs("shape", &[0, 0, 2, 32]), longs("axes", &[-1])];
            ModelProto { graph: Some(GraphProto { node: g.0, initializer, ..Default::default() }), ..Default::default() }.encode_to_vec()
        };
        let switched = with_own_kernels(&build(false), OwnKernels { attention: false, matmul: true }, None).unwrap().unwrap();
        let graph = ModelProto::decode(switched.model.as_slice()).unwrap().graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["MatMulNBits"]);
        assert_eq!((graph.node[0].input.clone(), graph.node[0].output.clone()), (vec!["x".to_string(), "b".into(), "s".into(), "z".into(), "m".into()], vec!["y".to_string()]));
        assert_eq!(graph.initializer.len(), 6, "initializers are kept");
        assert!(switched.rows_independent);
        // Block sums another node reads stay; the product still folds.
        let switched = with_own_kernels(&build(true), OwnKernels { attention: false, matmul: true }, None).unwrap().unwrap();
        let graph = ModelProto::decode(switched.model.as_slice()).unwrap().graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["MatMulNBits", "Reshape", "ReduceSum", "Identity"]);
        // Without kogi's int4 kernel nothing folds.
        let switched = with_own_kernels(&build(false), OwnKernels { attention: true, matmul: false }, None);
        assert!(switched.unwrap().is_none());
    }

    #[test]
    fn a_zero_attribute_is_still_written() {
        // keepdims = 0 must reach ONNX Runtime as a present `i`, not as an absent default.
        let bytes = int("keepdims", 0).encode_to_vec();
        assert_eq!(AttributeProto::decode(bytes.as_slice()).unwrap().i, Some(0));
        assert!(bytes.windows(2).any(|w| w == [0x18, 0x00]), "{bytes:?}");
    }
}
