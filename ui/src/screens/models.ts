// Settings → Models: the installed models (architecture, size, weights, target, whether the chat
// model reads Japanese), use or remove one, and "Add a model…" — a GGUF file or a Hugging Face
// folder, by path or dropped on the window, converted with progress and cancel.
import { api, finished, message, type ModelEntry, type Target } from "../api";
import { clear, h, progressBar } from "../dom";
import type { Ctx } from "../main";
import { getCurrentWebview } from "@tauri-apps/api/webview";

function size(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GB` : `${Math.round(bytes / (1 << 20))} MB`;
}

function fitText(m: ModelEntry): string {
  if (!m.fit) return "";
  const per = m.fit.tokens_per_ja_char != null ? ` (${m.fit.tokens_per_ja_char.toFixed(2)} tokens/char)` : "";
  return (m.fit.reads_japanese ? "reads Japanese" : "cannot read Japanese") + per;
}

/// The Models section; `onChanged` is told when the chat model in use changed.
export function modelsSection(ctx: Ctx, onChanged: () => void): { el: HTMLElement; dispose: () => void } {
  const table = h("div", { id: "model-list" });
  const path = h("input", { id: "model-path", placeholder: "/home/you/models/Qwen2.5-1.5B-Instruct-Q4_K_M.gguf — or a Hugging Face folder" });
  const target = h("select", { id: "model-target", title: "Where the converted model will run" },
    h("option", { value: "" }, "Target: from the provider setting"),
    h("option", { value: "cpu" }, "CPU (keeps the file's quantisation)"),
    h("option", { value: "cpu-fast" }, "CPU, faster (re-quantised to Q4_0, as llama.cpp does)"),
    h("option", { value: "cuda" }, "NVIDIA GPU (fp16)"),
    h("option", { value: "cuda-int4" }, "NVIDIA GPU, 4-bit (when fp16 does not fit)"));
  const progress = h("div", { id: "model-progress" });
  const add = h("button", { id: "add-model", type: "button", onclick: () => start(path.value.trim()) }, "Add a model…");
  const zone = h("div", { class: "dropzone", id: "model-dropzone" },
    "Drop a .gguf file (LM Studio, Ollama, Jan) or a Hugging Face model folder here, or give its path:",
    h("div", { class: "row" }, path, target, add));
  const el = h("section", { id: "models-section" }, table, zone, progress);

  async function refresh() {
    try {
      render(await api.listModels());
    } catch (e) {
      clear(table);
      table.append(h("p", { class: "error" }, message(e)));
    }
  }

  function render(models: ModelEntry[]) {
    clear(table);
    const rows = models.map((m) => {
      const facts = [m.architecture, m.parameters ? `${Math.round(m.parameters / 1e6)}M` : null, m.target].filter(Boolean).join(" · ");
      const actions = h("td", {});
      if ((m.kind === "chat" || m.kind === "transcriber") && !m.in_use && !m.problem) actions.append(h("button", { type: "button", class: "link use-model", "data-model": m.name, onclick: () => use(m.name) }, "Use"));
      if (!m.default && !m.in_use) actions.append(h("button", { type: "button", class: "link remove-model", "data-model": m.name, onclick: () => remove(m) }, "Remove"));
      return h("tr", { "data-model": m.name, class: m.in_use ? "in-use" : "" },
        h("td", {}, m.name, m.in_use ? h("small", {}, " (in use)") : ""),
        h("td", {}, m.kind ?? "?", facts ? h("small", {}, ` ${facts}`) : ""),
        h("td", {}, m.quantization ?? ""),
        h("td", { class: "num" }, size(m.bytes)),
        h("td", { class: m.fit && !m.fit.reads_japanese ? "warn" : "" }, fitText(m)),
        h("td", { class: m.problem ? "error" : "ok" }, m.problem ?? "ready"),
        actions);
    });
    table.append(h("table", { class: "models" },
      h("thead", {}, h("tr", {}, ...["Model", "Kind", "Weights", "Size", "Japanese", "State", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...rows)));
  }

  async function use(name: string) {
    try {
      ctx.status = await api.useChatModel(name);
      ctx.toast(`Answers now come from ${name}.`);
      onChanged();
    } catch (e) {
      ctx.toast(message(e), "error");
    }
  }

  async function remove(m: ModelEntry) {
    if (!window.confirm(`Remove ${m.name}? This deletes ${size(m.bytes)} from the models folder.`)) return;
    try {
      render(await api.removeModel(m.name));
      ctx.toast(`Removed ${m.name}.`);
    } catch (e) {
      ctx.toast(message(e), "error");
    }
  }

  async function start(source: string) {
    if (!source) {
      ctx.toast("Give the path of a .gguf file or a model folder, or drop one here.", "error");
      return;
    }
    let job: number;
    try {
      job = await api.addModel(source, null, (target.value || null) as Target | null);
    } catch (e) {
      ctx.toast(message(e), "error");
      return;
    }
    const name = source.split("/").filter(Boolean).pop() ?? source;
    const bar = progressBar(`Converting ${name}…`, () => api.cancel(job));
    bar.el.id = "model-add-progress";
    progress.prepend(bar.el);
    try {
      const done = await finished<{ name: string; seconds: number }>(job, (e) => {
        if (e.type === "progress" && e.total > 0) bar.set((100 * e.done) / e.total, `Converting ${name}: ${e.done} of ${e.total} MB`);
      });
      bar.finish(`Added ${done.name} in ${done.seconds.toFixed(1)} s.`);
      bar.el.dataset.added = done.name;
      path.value = "";
      await refresh();
    } catch (e) {
      bar.finish(message(e) === "cancelled" ? `Cancelled — nothing was added.` : `${name}: ${message(e)}`, true);
    }
  }

  let unlisten: (() => void) | null = null;
  let disposed = false;
  getCurrentWebview()
    .onDragDropEvent((e) => {
      const p = e.payload;
      zone.classList.toggle("over", p.type === "enter" || p.type === "over");
      if (p.type === "drop") for (const f of p.paths) start(f);
    })
    .then((u) => (disposed ? u() : (unlisten = u)))
    .catch(() => {});

  refresh();
  return { el, dispose: () => { disposed = true; unlisten?.(); } };
}
