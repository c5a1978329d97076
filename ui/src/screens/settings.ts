// Settings: where models live and which are installed, the execution provider (and the one really in
// use), generation settings. Validation happens in Rust; its message is shown as is.
import { api, message, RUNGS, type AppStatus, type ProviderReport, type ServerReport, type Settings } from "../api";
import { clear, h } from "../dom";
import type { Ctx } from "../main";
import { modelsSection } from "./models";

export function mountSettings(el: HTMLElement, ctx: Ctx): () => void {
  let section: ReturnType<typeof modelsSection> | null = null;
  // The status may arrive after the person has moved to another screen: it must not draw there.
  let disposed = false;
  render(ctx.status);
  ctx.refreshStatus().then(render).catch(() => {});

  function render(st: AppStatus) {
    if (disposed) return;
    section?.dispose();
    section = modelsSection(ctx, () => render(ctx.status));
    clear(el);
    const s: Settings = { ...st.settings };
    const field = (label: string, input: HTMLElement, hint?: string) => h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", {}, hint) : "");
    const text = (id: string, value: string, placeholder = "") => h("input", { id, value, placeholder });
    const num = (id: string, value: number, step: string, min: string, max: string) => h("input", { id, type: "number", value, step, min, max });
    const select = (id: string, value: string, options: [string, string][]) => {
      const sel = h("select", { id }, ...options.map(([v, l]) => h("option", { value: v }, l)));
      sel.value = value;
      return sel;
    };
    const modelNames = (kind: string, current: string): [string, string][] => {
      const names = st.models.models.filter((m) => m.kind === kind).map((m) => m.name);
      if (!names.includes(current)) names.unshift(current);
      return names.map((n) => [n, n]);
    };
    const modelsDir = text("models-dir", s.models_dir ?? "", st.models.dir);
    const embedder = select("embedder", s.embedder, modelNames("embedder", s.embedder));
    const chat = select("chat-model", s.chat_model, modelNames("chat", s.chat_model));
    const provider = select("provider", s.provider, [["auto", "Auto (TensorRT → CUDA → CPU)"], ["cpu", "CPU"], ["cuda", "CUDA"], ["tensorrt", "TensorRT"]]);
    const temperature = num("temperature", s.temperature, "0.05", "0", "2");
    const topP = num("top-p", s.top_p, "0.05", "0.05", "1");
    const maxTokens = num("max-tokens", s.max_tokens, "16", "1", "4096");
    const speculation = h("input", { type: "checkbox", id: "speculation" });
    speculation.checked = s.speculation;
    const mode = select("default-mode", s.mode, RUNGS.map((r) => [r.id, r.label]));
    const k = num("k", s.k, "1", "1", "20");
    const budget = num("prompt-budget", s.max_prompt_tokens, "256", "256", "131072");
    const lang = select("lang", s.lang ?? "", [["", "The question's language"], ["ja", "日本語"], ["en", "English"]]);
    const samples = num("think-samples", s.think_samples, "1", "2", "16");

    const runtime = "Ok" in st.runtime ? st.runtime.Ok : st.runtime.Err;
    const inUse = (r: ProviderReport | null, what: string) =>
      r ? `${what}: ${r.in_use}${r.fell_back.length ? ` (auto skipped ${r.fell_back.map(([p, why]) => `${p}: ${why}`).join("; ")})` : ""}` : `${what}: not loaded yet`;

    const models = section.el;

    // Where answers come from: this computer, or a server the person runs (the key is kept apart
    // from the settings, and only its last characters ever come back).
    const engine = select("engine", s.engine, [["local", "This computer (ONNX Runtime)"], ["server", "A server (OpenAI-compatible: vLLM, llama.cpp, Ollama, LM Studio)"]]);
    const srv = s.server;
    const serverUrl = text("server-url", srv.base_url, "http://127.0.0.1:8080/v1");
    const modelList = h("datalist", { id: "server-models" });
    const serverModel = h("input", { id: "server-model", value: srv.model, list: "server-models", placeholder: "Test the connection to list them" });
    const embedModel = text("server-embed-model", srv.embed_model ?? "", "Empty = embeddings on this computer");
    const contextTokens = text("server-context", srv.context_tokens?.toString() ?? "", "From the server when it says");
    const key = h("input", { id: "server-key", type: "password", autocomplete: "off", placeholder: st.server_key ? `stored key ${st.server_key} — type to replace` : "none (optional)" });
    const clearKey = h("input", { type: "checkbox", id: "server-key-clear" });
    const connectT = num("server-connect-timeout", srv.connect_timeout_s, "1", "0.1", "3600");
    const firstT = num("server-first-timeout", srv.first_token_timeout_s, "1", "0.1", "3600");
    const idleT = num("server-idle-timeout", srv.idle_timeout_s, "1", "0.1", "3600");
    const concurrency = num("server-concurrency", srv.max_concurrency, "1", "1", "64");
    const report = h("div", { class: "hint", id: "server-report", role: "status" });
    const privacy = h("p", { class: srv.privacy_acknowledged ? "hint" : "notice", id: "server-privacy", role: "note" },
      "With a server, each question is sent there together with the lecture passages retrieved for it",
      " (and, when embeddings come from the server, the texts to embed). Your transcripts as a whole, their revisions and the database stay on this computer.");
    const plainHttp = h("p", { class: "hint", id: "server-plain-http" }, "Plain http: what is sent can be read on your network. Use https:// where the server offers it.");
    const serverFields = h("div", { id: "server-fields" },
      field("Server address", serverUrl, "With its /v1 — https://, or http:// on this computer and private networks"),
      plainHttp,
      field("Model", h("span", {}, serverModel, modelList)),
      field("API key", key, "Kept in your kogi folder, readable by you only; never shown in full"),
      st.server_key ? h("label", { class: "field check" }, clearKey, h("span", {}, `Forget the stored key ${st.server_key}`)) : "",
      field("Embedding model", embedModel),
      field("Context window (tokens)", contextTokens),
      h("details", {}, h("summary", {}, "Timeouts and requests at once"),
        field("Connect (s)", connectT), field("First word (s)", firstT, "A long prompt on a busy server takes a while"), field("Silence mid-answer (s)", idleT), field("Requests at once", concurrency)),
      h("div", { class: "row" }, h("button", { type: "button", id: "test-server", onclick: () => testServer() }, "Test connection"), report),
      privacy);
    const showServer = () => {
      serverFields.hidden = engine.value !== "server";
      plainHttp.hidden = !/^http:\/\//i.test(serverUrl.value.trim());
    };
    engine.addEventListener("change", showServer);
    serverUrl.addEventListener("input", showServer);
    showServer();
    const serverFromForm = (): Settings["server"] => ({
      ...srv,
      base_url: serverUrl.value.trim(),
      model: serverModel.value.trim(),
      embed_model: embedModel.value.trim() || null,
      context_tokens: contextTokens.value.trim() ? Number(contextTokens.value) : null,
      connect_timeout_s: Number(connectT.value),
      first_token_timeout_s: Number(firstT.value),
      idle_timeout_s: Number(idleT.value),
      max_concurrency: Number(concurrency.value),
    });
    async function testServer() {
      report.textContent = "Connecting…";
      report.classList.remove("error");
      try {
        const r: ServerReport = await api.testServer(serverFromForm(), key.value || null);
        clear(modelList);
        modelList.append(...r.models.map((m) => h("option", { value: m })));
        if (!serverModel.value && r.models.length === 1) serverModel.value = r.models[0];
        const listed = r.model_listed === false ? ` — ${serverModel.value} is NOT among them` : "";
        report.textContent = `${r.host} answered in ${r.ms.toFixed(0)} ms. Models: ${r.models.length ? r.models.join(", ") : "not listed"}${listed}. Context window: ${r.context_tokens} tokens (${r.context_source}).`;
      } catch (err) {
        report.textContent = message(err);
        report.classList.add("error");
      }
    }

    const save = h("button", { class: "primary", id: "save-settings", type: "submit" }, "Save settings");
    el.append(
      h("h1", {}, "Settings"),
      st.settings_problem ? h("p", { class: "error" }, st.settings_problem) : "",
      st.models.help ? h("div", { class: "notice", id: "models-help" }, h("pre", {}, st.models.help)) : "",
      // Rust validates (with messages that say what is allowed); the browser's step rules would
      // silently refuse values such as 96 tokens.
      h("form", { class: "settings", novalidate: true, onsubmit: async (e: Event) => {
        e.preventDefault();
        const next: Settings = {
          ...s,
          models_dir: modelsDir.value.trim() || null,
          embedder: embedder.value,
          chat_model: chat.value,
          provider: provider.value as Settings["provider"],
          temperature: Number(temperature.value),
          top_p: Number(topP.value),
          max_tokens: Number(maxTokens.value),
          speculation: speculation.checked,
          mode: mode.value as Settings["mode"],
          k: Number(k.value),
          max_prompt_tokens: Number(budget.value),
          lang: (lang.value || null) as Settings["lang"],
          think_samples: Number(samples.value),
          engine: engine.value as Settings["engine"],
          server: serverFromForm(),
        };
        // The note on what is sent stands beside the fields: saving a server acknowledges it.
        if (next.engine === "server") next.server.privacy_acknowledged = true;
        try {
          if (clearKey.checked) await api.setServerKey(null);
          else if (key.value) await api.setServerKey(key.value);
          const updated = await api.saveSettings(next);
          ctx.status = updated;
          ctx.toast("Settings saved.");
          render(updated);
        } catch (err) {
          ctx.toast(message(err), "error");
        }
      } },
        h("h2", {}, "Models"),
        field("Models folder", modelsDir, `Empty = the default (${st.models.dir})`),
        models,
        field("Embedding model", embedder),
        field("Chat model", chat, "The default SmolLM2-135M is tiny and English-only. Add the model you already have above (a GGUF file or a Hugging Face folder: Llama 3, Qwen2.5, Qwen3, Swallow …)."),
        h("h2", {}, "Answers from"),
        field("Engine", engine),
        serverFields,
        h("h2", {}, "Execution provider"),
        field("Run models on", provider),
        h("p", { class: "hint", id: "provider-in-use" }, inUse(st.embedder_provider, "Embedder"), " · ", inUse(st.chat_provider, "Chat model")),
        h("p", { class: "hint" }, `ONNX Runtime: ${runtime}`),
        h("h2", {}, "Answers"),
        field("Default mode", mode),
        field("Passages (k)", k),
        field("Prompt budget (tokens)", budget, "Passages are cut to fit. On a CPU a smaller budget answers sooner."),
        field("Answer language", lang),
        field("Temperature", temperature, "0 = greedy (deterministic)"),
        field("Top-p", topP),
        field("Max new tokens", maxTokens),
        h("label", { class: "field check" }, speculation, h("span", {}, "n-gram speculative decoding (faster; greedy output is identical)")),
        field("Think-harder samples", samples),
        save,
      ),
      h("p", { class: "hint" }, `Database: ${st.db_path} · settings: ${st.settings_path} · kogi ${st.version}`),
    );
  }
  return () => {
    disposed = true;
    section?.dispose();
  };
}
