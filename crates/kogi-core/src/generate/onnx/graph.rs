//! Every graph kogi adds to or builds beside a model, in one place.
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
//! model-editor API would do the same, but the `ort` crate cannot open an editor session with this
//! library: it asks an unfinalized session for its inputs' memory info.)

use ort::value::{Outlet, Shape, SymbolicDimensions, TensorElementType, ValueType};

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

/// ONNX element types (`TensorProto.DataType`).
const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// The model `model` (a serialized `ModelProto`) with the step outputs added.
pub fn with_step_outputs(model: &[u8]) -> Result<Vec<u8>, String> {
    let opset = default_opset(model)?;
    if opset < MIN_OPSET {
        return Err(format!("the model's default opset ({opset}) is older than the step outputs need ({MIN_OPSET})"));
    }
    let mut graph = Vec::new();
    let mut node = |op: &str, name: &str, inputs: &[&str], out: &str, attrs: &[Vec<u8>]| {
        let mut n = Vec::new();
        for i in inputs {
            put_str(&mut n, 1, i);
        }
        put_str(&mut n, 2, out);
        put_str(&mut n, 3, &format!("kogi/{name}"));
        put_str(&mut n, 4, op);
        for a in attrs {
            put_bytes(&mut n, 5, a);
        }
        put_bytes(&mut graph, 1, &n);
    };
    for (name, v) in [("minus_one", -1i64), ("zero", 0), ("one", 1), ("end", i64::MAX)] {
        node("Constant", name, &[], &format!("kogi/{name}"), &[attr_ints("value_ints", &[v])]);
    }
    let (m1, zero, one, end) = ("kogi/minus_one", "kogi/zero", "kogi/one", "kogi/end");
    // The choice at the last position, in float32 whatever the logits' type.
    node("Slice", "last", &["logits", m1, end, one], "kogi/last", &[]);
    node("Cast", "last_f32", &["kogi/last"], "kogi/last_f32", &[attr_int("to", FLOAT)]);
    let keep0 = attr_int("keepdims", 0);
    // The log-probability costs ~1% of a 3B step on an H200 (measured against an argmax alone); a
    // LogSoftmax-based head was no faster.
    node("ArgMax", "argmax", &["kogi/last_f32"], "kogi/ids", &[attr_int("axis", -1), keep0.clone()]);
    for (op, out) in [("ReduceMax", "kogi/top"), ("ReduceLogSumExp", "kogi/lse")] {
        // The reductions take their axes as an input from opset 18, as an attribute before.
        if opset >= 18 {
            node(op, out, &["kogi/last_f32", m1], out, std::slice::from_ref(&keep0));
        } else {
            node(op, out, &["kogi/last_f32"], out, &[attr_ints("axes", &[-1]), keep0.clone()]);
        }
    }
    node("Sub", "logprob", &["kogi/top", "kogi/lse"], "kogi/logprob", &[]);
    node("Cast", "ids_f32", &["kogi/ids"], "kogi/ids_f32", &[attr_int("to", FLOAT)]);
    node("Concat", "picked", &["kogi/ids_f32", "kogi/logprob"], PICKED, &[attr_int("axis", 1)]);
    // The next step's inputs.
    node("Slice", "ids_tail", &["input_ids", one, end, one], "kogi/ids_tail", &[]);
    node("Concat", "next_ids", &["kogi/ids_tail", "kogi/ids"], NEXT_IDS, &[attr_int("axis", 1)]);
    node("Slice", "mask_first", &["attention_mask", zero, one, one], "kogi/mask_first", &[]);
    node("Slice", "mask_rest", &["attention_mask", zero, m1, one], "kogi/mask_rest", &[]);
    node("Concat", "next_mask", &["kogi/mask_first", "kogi/mask_rest"], NEXT_MASK, &[attr_int("axis", 1)]);
    for (name, ty, dims) in
        [(PICKED, FLOAT, ["batch", "2"]), (NEXT_IDS, INT64, ["batch", "sequence"]), (NEXT_MASK, INT64, ["batch", "total_sequence_length"])]
    {
        put_bytes(&mut graph, 12, &value_info(name, ty, &dims));
    }
    let mut out = model.to_vec();
    put_bytes(&mut out, 7, &graph);
    Ok(out)
}

/// The greedy choices in a `PICKED` tensor's data (`[batch, 2]`).
pub fn read_picked(data: &[f32]) -> (Vec<u32>, Vec<f32>) {
    data.chunks(2).map(|p| (p[0] as u32, p[1])).unzip()
}

// --- the few protobuf pieces this needs ---

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
    put_key(out, field, 0);
    put_varint(out, v as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn put_str(out: &mut Vec<u8>, field: u32, s: &str) {
    put_bytes(out, field, s.as_bytes());
}

/// `AttributeProto` of type INT (2).
fn attr_int(name: &str, v: i64) -> Vec<u8> {
    let mut a = Vec::new();
    put_str(&mut a, 1, name);
    put_int(&mut a, 3, v);
    put_int(&mut a, 20, 2);
    a
}

/// `AttributeProto` of type INTS (7).
fn attr_ints(name: &str, vs: &[i64]) -> Vec<u8> {
    let mut a = Vec::new();
    put_str(&mut a, 1, name);
    for &v in vs {
        put_int(&mut a, 8, v);
    }
    put_int(&mut a, 20, 7);
    a
}

/// `ValueInfoProto` of a tensor with symbolic dimensions.
fn value_info(name: &str, elem_type: i64, dims: &[&str]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        put_str(&mut dim, 2, d);
        put_bytes(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    put_int(&mut tensor, 1, elem_type);
    put_bytes(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tensor);
    let mut vi = Vec::new();
    put_str(&mut vi, 1, name);
    put_bytes(&mut vi, 2, &ty);
    vi
}

/// One field of a serialized message: (field number, varint value or bytes).
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
    Other,
}

fn fields(data: &[u8]) -> Fields<'_> {
    Fields { data }
}

struct Fields<'a> {
    data: &'a [u8],
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.data.split_first().ok_or("truncated varint")?;
            self.data = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err("truncated field".into());
        }
        let (bytes, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(bytes)
    }

    fn field(&mut self) -> Result<Field<'a>, String> {
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        Ok(match key & 7 {
            0 => Field::Varint(field, self.varint()?),
            1 => self.take(8).map(|_| Field::Other)?,
            2 => {
                let n = self.varint()? as usize;
                Field::Bytes(field, self.take(n)?)
            }
            5 => self.take(4).map(|_| Field::Other)?,
            w => return Err(format!("unknown wire type {w}")),
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let r = self.field();
        if r.is_err() {
            self.data = &[];
        }
        Some(r)
    }
}

/// The version of the default ONNX domain in a serialized `ModelProto` (its `opset_import`).
pub fn default_opset(model: &[u8]) -> Result<i64, String> {
    let bad = |e: String| format!("model.onnx is not a readable ONNX model ({e})");
    for f in fields(model) {
        if let Field::Bytes(8, opset) = f.map_err(bad)? {
            let (mut domain, mut version) = ("", 0i64);
            for g in fields(opset) {
                match g.map_err(bad)? {
                    Field::Bytes(1, d) => domain = std::str::from_utf8(d).unwrap_or("?"),
                    Field::Varint(2, v) => version = v as i64,
                    _ => {}
                }
            }
            if domain.is_empty() || domain == "ai.onnx" {
                return Ok(version);
            }
        }
    }
    Err("model.onnx imports no default ONNX opset".into())
}

// ---------------------------------------------------------------------------------------------
// Head graphs built beside a model (with ONNX Runtime's model editor) and the picks they return.

/// The greedy choice at each of the last `want` positions of each row (`[batch][want]`), with its
/// log-probability under the model's distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub ids: Vec<u32>,
    pub logprobs: Vec<f32>,
}

/// The greedy head: logits `[b, s, vocab]` → for the positions `starts..ends` on axis 1, the argmax
/// id and its log-probability (max − logsumexp), computed in float32.
pub(super) fn greedy_head(logits: TensorElementType) -> ort::Result<ort::editor::Model> {
    use ort::editor::{Graph, Model, Node, ONNX_DOMAIN, Opset};
    use ort::operator::Attribute;
    let tensor = symbolic;
    let mut g = Graph::new()?;
    g.set_inputs([
        Outlet::new("logits", tensor(logits, &["batch", "sequence", "vocab"])),
        Outlet::new("starts", tensor(TensorElementType::Int64, &["one"])),
        Outlet::new("ends", tensor(TensorElementType::Int64, &["one"])),
        Outlet::new("axes", tensor(TensorElementType::Int64, &["one"])),
    ])?;
    g.set_outputs([
        Outlet::new("ids", tensor(TensorElementType::Int64, &["batch", "want"])),
        Outlet::new("logprobs", tensor(TensorElementType::Float32, &["batch", "want"])),
    ])?;
    g.add_node(Node::new("Slice", ONNX_DOMAIN, "last", ["logits", "starts", "ends", "axes"], ["last"], [])?)?;
    g.add_node(Node::new("Cast", ONNX_DOMAIN, "to_f32", ["last"], ["last_f32"], [Attribute::new("to", 1i64)?])?)?;
    add_pick_nodes(&mut g, "last_f32", "", "ids", "logprobs")?;
    let mut model = Model::new([Opset::new(ONNX_DOMAIN, 17)?])?;
    model.set_graph(g)?;
    Ok(model)
}

/// A tensor type whose dimensions are all symbolic, named `dims` (graphs built in memory).
fn symbolic(ty: TensorElementType, dims: &[&str]) -> ValueType {
    ValueType::Tensor {
        ty,
        shape: Shape::new(dims.iter().map(|_| -1i64)),
        dimension_symbols: SymbolicDimensions::new(dims.iter().map(|d| d.to_string())),
    }
}

/// The greedy pick of float32 logits `row` (`[.., 1, vocab]`, one position): `ArgMax` into `id`
/// (int64) and `ReduceMax − ReduceLogSumExp` into `logprob`; node names start with `prefix`.
/// One position at a time: ONNX Runtime's CUDA reductions over `[.., 1, vocab]` are fast, over
/// `[.., k, vocab]` they took ~20 ms for the 8B vocabulary.
fn add_pick_nodes(g: &mut ort::editor::Graph, row: &str, prefix: &str, id: &str, logprob: &str) -> ort::Result<()> {
    use ort::editor::{Node, ONNX_DOMAIN};
    use ort::operator::Attribute;
    let keep0 = || Attribute::new("keepdims", 0i64);
    g.add_node(Node::new("ArgMax", ONNX_DOMAIN, format!("{prefix}argmax"), [row], [id], [Attribute::new("axis", -1i64)?, keep0()?])?)?;
    let (top, lse) = (format!("{prefix}top"), format!("{prefix}lse"));
    for (op, out) in [("ReduceMax", &top), ("ReduceLogSumExp", &lse)] {
        g.add_node(Node::new(op, ONNX_DOMAIN, out, [row], [out], [Attribute::new("axes", vec![-1i64])?, keep0()?])?)?;
    }
    g.add_node(Node::new("Sub", ONNX_DOMAIN, format!("{prefix}logprob"), [top, lse], [logprob], [])?)?;
    Ok(())
}

/// The verification head: logits `[1, w, vocab]` (w ≤ `width`) → `picks` `[2 * `width`]`, the
/// argmax id (as float; ids < 2^24) at positions 0..`width`, then their log-probabilities. The
/// logits are padded to `width` rows so the graph has one shape for every width, and each position
/// is reduced on its own ([`add_pick_nodes`], the greedy head's chain).
pub(super) fn verify_head(logits: TensorElementType, vocab: usize, width: usize) -> ort::Result<ort::editor::Model> {
    use ort::editor::{Graph, Model, Node, ONNX_DOMAIN, Opset};
    use ort::operator::Attribute;
    let tensor = symbolic;
    let mut g = Graph::new()?;
    g.set_inputs([Outlet::new("logits", tensor(logits, &["one", "width", "vocab"]))])?;
    g.set_outputs([Outlet::new("picks", tensor(TensorElementType::Float32, &["picks"]))])?;
    let ints = |name: &str, v: Vec<i64>| -> ort::Result<Node> {
        Node::new("Constant", ONNX_DOMAIN, name, [] as [&str; 0], [name], [Attribute::new("value_ints", v)?])
    };
    g.add_node(Node::new("Cast", ONNX_DOMAIN, "to_f32", ["logits"], ["logits_f32"], [Attribute::new("to", 1i64)?])?)?;
    g.add_node(ints("pad_shape", vec![1, width as i64, vocab as i64])?)?;
    g.add_node(Node::new("ConstantOfShape", ONNX_DOMAIN, "pad", ["pad_shape"], ["pad"], [])?)?;
    g.add_node(Node::new("Concat", ONNX_DOMAIN, "padded", ["logits_f32", "pad"], ["padded"], [Attribute::new("axis", 1i64)?])?)?;
    g.add_node(ints("axis1", vec![1])?)?;
    let (mut ids, mut lps) = (Vec::new(), Vec::new());
    for i in 0..width {
        let p = |s: &str| format!("p{i}_{s}");
        g.add_node(ints(&p("start"), vec![i as i64])?)?;
        g.add_node(ints(&p("end"), vec![i as i64 + 1])?)?;
        g.add_node(Node::new("Slice", ONNX_DOMAIN, p("slice"), ["padded".into(), p("start"), p("end"), "axis1".into()], [p("row")], [])?)?;
        add_pick_nodes(&mut g, &p("row"), &p(""), &p("id"), &p("lp"))?;
        g.add_node(Node::new("Cast", ONNX_DOMAIN, p("id_f32"), [p("id")], [p("id_f")], [Attribute::new("to", 1i64)?])?)?;
        // [1, 1] each: flatten into the output.
        ids.push(p("id_f"));
        lps.push(p("lp"));
    }
    let all: Vec<String> = ids.into_iter().chain(lps).collect();
    g.add_node(Node::new("Concat", ONNX_DOMAIN, "cat", all, ["cat"], [Attribute::new("axis", 1i64)?])?)?;
    g.add_node(ints("flat", vec![-1])?)?;
    g.add_node(Node::new("Reshape", ONNX_DOMAIN, "picks", ["cat", "flat"], ["picks"], [])?)?;
    let mut model = Model::new([Opset::new(ONNX_DOMAIN, 17)?])?;
    model.set_graph(g)?;
    Ok(model)
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
        let mut m = Vec::new();
        put_int(&mut m, 1, 10);
        for (d, v) in opsets {
            let mut o = Vec::new();
            put_str(&mut o, 1, d);
            put_int(&mut o, 2, *v);
            put_bytes(&mut m, 8, &o);
        }
        m
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
        // One graph field appended, holding the nodes and the three outputs.
        let tail: Vec<_> = fields(&out[model.len()..]).collect::<Result<_, _>>().unwrap();
        let [Field::Bytes(7, graph)] = tail.as_slice() else { panic!("one graph field") };
        let outputs = fields(graph).filter(|f| matches!(f, Ok(Field::Bytes(12, _)))).count();
        assert_eq!(outputs, 3);
    }
}
