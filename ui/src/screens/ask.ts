// Ask: a question, an answer streamed in, citations that open the lecture at the passage; a mode
// selector for the RAG ladder, a side-by-side comparison, and "think harder" (self-consistency).
// A passage of a lecture kept with its recording plays that moment.
import { api, finished, message, RUNGS, type Answer, type AnswerWith, type Asked, type Passage, type QuoteReason, type Recording, type Rung } from "../api";
import { clear, h } from "../dom";
import { nudgeStalledClock, playbackProblem, playFrom, recordingUrl } from "../player";
import { shortClock, snippet, splitCitations } from "../text";
import type { Ctx } from "../main";

let lastQuestion = "";

const QUOTED: Record<QuoteReason, string> = {
  asked: "Quoted from the lecture — no model wrote this.",
  model_cannot_read: "Quoted from the lecture — the chat model cannot read Japanese, so it was not asked.",
  no_model: "Quoted from the lecture — no chat model is installed.",
};

export function mountAsk(el: HTMLElement, ctx: Ctx): () => void {
  const s = ctx.status.settings;
  const question = h("textarea", { id: "question", rows: 2, placeholder: "講義について質問してください — e.g. LLMにおけるInference Time Scalingとは？" });
  question.value = lastQuestion;
  const mode = h("select", { id: "mode", title: "Step of the RAG ladder" }, ...RUNGS.map((r) => h("option", { value: r.id, title: r.hint }, r.label)));
  mode.value = s.mode;
  const compare = h("input", { type: "checkbox", id: "compare" });
  const think = h("input", { type: "checkbox", id: "think" });
  const compareSet = h("fieldset", { class: "compare-set", id: "compare-set", hidden: true },
    ...RUNGS.map((r) => h("label", {}, h("input", { type: "checkbox", value: r.id, checked: r.id === "none" || r.id === "raw" || r.id === "windows" }), ` ${r.label}`)));
  compare.addEventListener("change", () => {
    compareSet.hidden = !compare.checked;
    mode.disabled = compare.checked;
  });
  const askBtn = h("button", { class: "primary", id: "ask", type: "submit" }, "Ask");
  const cancelBtn = h("button", { id: "cancel-ask", type: "button", hidden: true }, "Stop");
  const progress = h("div", { class: "hint", id: "ask-progress" });
  const results = h("div", { class: "answers", id: "answers" });
  const answerWith = h("select", { id: "answer-with", title: "Who words the answer" },
    h("option", { value: "auto", title: "Quotes when the chat model cannot read the lecture's language" }, "Automatic"),
    h("option", { value: "model", title: "The chat model writes the answer from the passages" }, "The model"),
    h("option", { value: "quotes", title: "The lecture's own best sentences, verbatim, each cited" }, "Quotes"));
  answerWith.value = s.answer_with;
  const fit = ctx.status.chat_fit;
  const perChar = fit?.tokens_per_ja_char != null ? ` (its tokenizer spends ${fit.tokens_per_ja_char.toFixed(1)} tokens per Japanese character; models that read Japanese spend about one)` : "";
  const fitNote = fit && !fit.reads_japanese
    ? h("p", { class: "notice", id: "fit-note", role: "note" },
        `The chat model ${s.chat_model} cannot read Japanese${perChar}. Questions about Japanese lectures are answered with quotes from the lecture instead of noise. `,
        h("a", { href: "#", onclick: (e: Event) => { e.preventDefault(); ctx.go("settings"); } }, "Add a Japanese-capable model in Settings → Models"),
        " to get written answers.")
    : null;
  const form = h("form", { class: "ask-form", onsubmit: (e: Event) => { e.preventDefault(); run(); } },
    question,
    h("div", { class: "row" }, h("label", {}, "Mode ", mode), h("label", {}, compare, " Compare steps"), h("label", {}, "Answer with ", answerWith), h("label", { title: `Sample ${s.think_samples} answers and keep the one that agrees most with the others` }, think, " Think harder"), askBtn, cancelBtn),
    compareSet);
  // Where answers come from, always in sight: this computer, or the server's host.
  const origin = h("p", { class: "hint", id: "answered-by" }, s.engine === "server"
    ? `Answers come from ${serverHost(s.server.base_url)} — it is sent your question and the passages retrieved for it.`
    : "Answers come from this computer.");
  const clip = h("audio", { id: "clip", preload: "none" });
  el.append(h("h1", {}, "Ask"), form, origin, fitNote ?? "", progress, results, clip);
  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
  });

  let running: number | null = null;
  cancelBtn.addEventListener("click", () => running !== null && api.cancel(running));

  async function run() {
    const q = question.value.trim();
    if (!q || running !== null) return;
    lastQuestion = q;
    const modes: Rung[] = compare.checked
      ? [...compareSet.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value as Rung)
      : [mode.value as Rung];
    if (modes.length === 0) {
      ctx.toast("Choose at least one step to compare.", "error");
      return;
    }
    stopClip();
    clear(results);
    delete results.dataset.done;
    delete results.dataset.firstTokenMs;
    results.classList.toggle("side-by-side", modes.length > 1);
    const columns = new Map<string, { box: HTMLElement; stream: HTMLElement }>();
    for (const m of modes) {
      const stream = h("div", { class: "stream", "data-mode": m });
      const box = h("section", { class: "answer", "data-mode": m }, h("h2", {}, RUNGS.find((r) => r.id === m)!.label), stream);
      columns.set(m, { box, stream });
      results.append(box);
    }
    const t0 = performance.now();
    let firstAt: number | null = null;
    askBtn.disabled = true;
    cancelBtn.hidden = false;
    progress.textContent = "Retrieving passages…";
    try {
      running = await api.ask(q, modes, think.checked, answerWith.value as AnswerWith);
      const asked = await finished<Asked>(running, (e) => {
        if (e.type === "progress") progress.textContent = e.stage;
        if (e.type === "text") {
          if (firstAt === null) {
            firstAt = performance.now() - t0;
            results.dataset.firstTokenMs = firstAt.toFixed(0);
          }
          columns.get(e.part)?.stream.append(e.text);
        }
      });
      asked.answers.forEach((a, i) => render(columns.get(a.rung)!.box, a, asked.first_text_ms[i], asked.quoted, asked.answered_by));
      progress.textContent = firstAt !== null ? `First words after ${(firstAt / 1000).toFixed(2)} s; done in ${((performance.now() - t0) / 1000).toFixed(1)} s.` : "";
      results.dataset.done = "true";
    } catch (e) {
      progress.textContent = "";
      results.append(h("p", { class: "error", role: "alert" }, message(e) === "cancelled" ? "Stopped." : message(e)));
    } finally {
      running = null;
      askBtn.disabled = false;
      cancelBtn.hidden = true;
    }
  }

  function open(p: { lecture: number; revision: number; span: { start: number; end: number } }) {
    ctx.go("lecture", { lecture: p.lecture, revision: p.revision, span: p.span });
  }

  function render(box: HTMLElement, a: Answer, firstMs: number | null, quoted: QuoteReason | null, by: string | null) {
    const title = box.querySelector("h2")!;
    clear(box);
    box.append(title);
    if (a.quoted) box.append(h("p", { class: "quote-label" }, QUOTED[quoted ?? "asked"]));
    const body = h("div", { class: "answer-text" });
    for (const piece of splitCitations(a.text)) {
      if (piece.kind === "text") {
        body.append(piece.text);
        continue;
      }
      const c = a.citations.find((x) => x.n === piece.n);
      if (c) body.append(h("a", { href: "#", class: "cite", "data-n": c.n, title: `${c.title}, characters ${c.span.start}–${c.span.end}`, onclick: (e: Event) => { e.preventDefault(); open(c); } }, piece.label));
      else body.append(h("span", { class: "cite-missing", title: "no such passage was given" }, piece.label));
    }
    box.append(body);
    if (a.not_covered) box.append(h("p", { class: "hint" }, a.gated ? "No passage was similar enough to the question, so the model was not asked." : a.quoted ? "No sentence of the passages fits the question." : "The model said the lecture does not cover this."));
    if (a.interrupted) box.append(h("p", { class: "error", role: "alert" }, `Incomplete: ${a.interrupted}. What arrived is kept above.`));
    else if (a.cut) box.append(h("p", { class: "hint" }, "The answer hit the token limit (raise it in Settings)."));
    if (a.passages.length > 0) {
      const cited = new Set(a.citations.map((c) => c.n));
      box.append(h("h3", {}, a.citations.length ? "Sources" : "Passages given to the model (none cited)"), h("ol", { class: "sources" }, ...a.passages.map((p, i) => source(p, i + 1, cited.has(i + 1)))));
    }
    const stats = [`${(a.ms / 1000).toFixed(1)} s`];
    if (firstMs !== null) stats.unshift(`first words ${(firstMs / 1000).toFixed(2)} s`);
    if (a.stats?.new_tokens) stats.push(`${a.stats.new_tokens} tokens`);
    if (a.think) stats.push(`thought harder: ${a.think.samples} samples, chose #${a.think.chosen + 1}`);
    if (!a.quoted) stats.push(by ? `answered by ${by}` : "answered on this computer");
    box.append(h("p", { class: "stats" }, stats.join(" · ")));
  }

  // The sentence that matched the question, marked, with what surrounds it (the passage can be longer
  // than a snippet shows, and its first lines are not always why it was found).
  function excerpt(p: Passage) {
    const s = snippet(p.text, p.span, p.matched);
    return h("div", { class: "snippet" }, `${s.cutStart ? "…" : ""}${s.before}`, h("mark", {}, s.matched), `${s.after}${s.cutEnd ? "…" : ""}`);
  }

  function source(p: Passage, n: number, cited: boolean) {
    const when = p.start_ms !== null && p.start_ms !== undefined ? ` @ ${shortClock(p.start_ms)}` : "";
    const li = h("li", { class: cited ? "cited" : "" },
      h("a", { href: "#", class: "source", "data-n": n, onclick: (e: Event) => { e.preventDefault(); open(p); } }, `[${n}] ${p.title}${when}`),
      excerpt(p));
    if (p.start_ms !== null) recordingOf(p.lecture).then((rec) => rec && li.querySelector("a.source")!.after(" ", playControl(p, rec)));
    return li;
  }

  // ----------------------------------------------------------------- passages heard in the recording
  const recordings = new Map<number, Promise<Recording | null>>();
  const recordingOf = (lecture: number) => {
    if (!recordings.has(lecture)) recordings.set(lecture, api.recording(lecture).catch(() => null));
    return recordings.get(lecture)!;
  };
  let clipEnd: number | null = null;
  let clipBtn: HTMLButtonElement | null = null;

  function playControl(p: Passage, rec: Recording) {
    const from = p.start_ms!;
    const to = p.end_ms !== null && p.end_ms > from ? p.end_ms : from + 15_000;
    const label = `▶ ${shortClock(from)}–${shortClock(to)}`;
    const btn = h("button", { class: "play-passage", "data-start-ms": from, "data-end-ms": to, "data-label": label, title: "Play this moment of the lecture's recording" }, label);
    btn.addEventListener("click", async () => {
      const again = clipBtn === btn;
      stopClip();
      if (again) return;
      try {
        const url = await recordingUrl(rec);
        if (clip.getAttribute("src") !== url) clip.src = url;
        clipBtn = btn;
        clipEnd = to / 1000;
        btn.textContent = `■ Stop · ${label.slice(2)}`;
        btn.closest("li")!.dataset.playing = "true";
        await playFrom(clip, from / 1000);
      } catch (e) {
        stopClip();
        ctx.toast(e instanceof Error && e.name === "NotSupportedError" ? playbackProblem(clip) : message(e), "error");
      }
    });
    return btn;
  }

  function stopClip() {
    clip.pause();
    if (clipBtn) {
      clipBtn.textContent = clipBtn.dataset.label!;
      clipBtn.closest("li")?.removeAttribute("data-playing");
    }
    clipBtn = null;
    clipEnd = null;
  }
  clip.addEventListener("timeupdate", () => clipEnd !== null && clip.currentTime >= clipEnd && stopClip());
  clip.addEventListener("ended", stopClip);
  const stopWatchdog = nudgeStalledClock(clip);

  return () => {
    if (running !== null) api.cancel(running);
    stopClip();
    stopWatchdog();
  };
}

/** The host (and port) of a server address, as the person typed it. */
export function serverHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
