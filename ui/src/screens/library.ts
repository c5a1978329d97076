// Library: lectures by course; import transcripts or recordings (transcribed here) by drag-and-drop
// or the file picker, a progress bar per file; what the kept recordings take on disk.
import { api, finished, message, type JobEvent, type Lecture } from "../api";
import { clear, h, progressBar } from "../dom";
import { byteSize, groupByCourse, importProgress } from "../text";
import { mediaInfo } from "../player";
import type { Ctx } from "../main";
import { getCurrentWebview } from "@tauri-apps/api/webview";

export function mountLibrary(el: HTMLElement, ctx: Ctx): () => void {
  const list = h("section", { class: "lectures", "aria-label": "Lectures" });
  const imports = h("div", { class: "imports", id: "imports" });
  const recordings = ".mp3,.m4a,.aac,.wav,.flac,.ogg,.oga,.opus,.mp4,.m4v,.mov,.webm,.mkv,.mka,.aif,.aiff,.caf";
  const picker = h("input", { type: "file", id: "file-input", multiple: true, accept: `.txt,.srt,.vtt,.json,text/plain,${recordings},audio/*,video/*`, class: "visually-hidden" });
  const drop = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drop transcripts or recordings here — transcripts as plain text, SRT, WebVTT or JSON (UTF-8, UTF-16 or Shift_JIS); recordings (MP3, M4A, WAV, FLAC, Ogg, MP4 …) are transcribed on this computer and kept for listening."),
    h("button", { class: "primary", onclick: () => picker.click() }, "Choose files…"),
  );
  const models = ctx.status.models;
  const notice = models.embedder_ready && models.chat_ready
    ? null
    : h("div", { class: "notice", id: "models-missing" }, h("strong", {}, "Models are not installed yet. "), h("pre", {}, models.help));
  const usage = h("p", { class: "hint", id: "media-usage" });
  el.append(h("h1", {}, "Library"), notice ?? "", drop, picker, imports, list, usage);

  async function refresh() {
    mediaInfo(true)
      .then((m) => (usage.textContent = m.bytes > 0 ? `Recordings kept with lectures: ${byteSize(m.bytes)} in ${m.folder}` : ""))
      .catch(() => {});
    let lectures: Lecture[];
    try {
      lectures = await api.lectures();
    } catch (e) {
      ctx.toast(message(e), "error");
      return;
    }
    clear(list);
    if (lectures.length === 0) {
      list.append(h("p", { class: "empty" }, "No lectures yet. Import a transcript or a recording to begin."));
      return;
    }
    for (const [course, ls] of groupByCourse(lectures)) {
      const rows = ls.map((l) =>
        h(
          "tr",
          { class: "lecture-row", "data-lecture": l.id, tabindex: 0, onclick: () => ctx.go("lecture", { lecture: l.id }), onkeydown: (e: Event) => (e as KeyboardEvent).key === "Enter" && ctx.go("lecture", { lecture: l.id }) },
          h("td", { class: "title" }, l.meta.title ?? l.file_name),
          h("td", {}, l.meta.date ?? ""),
          h("td", {}, l.meta.speaker ?? ""),
          h("td", { class: "num" }, String(l.revisions)),
          h("td", { class: "num" }, l.chars.toLocaleString()),
        ),
      );
      list.append(
        h("h2", {}, course || "No course"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Title"), h("th", {}, "Date"), h("th", {}, "Speaker"), h("th", { class: "num" }, "Revisions"), h("th", { class: "num" }, "Characters"))), h("tbody", {}, ...rows)),
      );
    }
  }

  async function track(job: number, name: string) {
    const bar = progressBar(name, () => api.cancel(job));
    bar.el.dataset.file = name;
    imports.prepend(bar.el);
    let stage = "";
    let since = 0;
    try {
      const r = await finished<{ created: boolean; lecture: Lecture }>(job, (e: JobEvent) => {
        if (e.type !== "progress") return;
        if (e.stage !== stage) [stage, since] = [e.stage, performance.now()];
        const p = importProgress(e.stage, e.done, e.total, performance.now() - since);
        bar.set(p.pct, `${name} — ${p.label}`);
      });
      bar.finish(`${name} — ${r.created ? "imported" : "already in the library"}`);
      refresh();
    } catch (e) {
      const m = message(e);
      bar.finish(m.startsWith(name) ? m : `${name} — ${m}`, true);
    }
  }

  picker.addEventListener("change", async () => {
    const files = [...(picker.files ?? [])];
    picker.value = "";
    for (const f of files) {
      try {
        const started = await api.importBytes(f.name, new Uint8Array(await f.arrayBuffer()));
        track(started.job, started.name);
      } catch (e) {
        ctx.toast(`${f.name}: ${message(e)}`, "error");
      }
    }
  });

  // Dropped files arrive from the window as paths (checked again in Rust).
  let unlisten: (() => void) | null = null;
  let disposed = false;
  getCurrentWebview()
    .onDragDropEvent(async (e) => {
      const p = e.payload;
      drop.classList.toggle("over", p.type === "enter" || p.type === "over");
      if (p.type !== "drop") return;
      try {
        for (const s of await api.importPaths(p.paths)) track(s.job, s.name);
      } catch (err) {
        ctx.toast(message(err), "error");
      }
    })
    .then((u) => (disposed ? u() : (unlisten = u)))
    .catch(() => {});

  refresh();
  return () => {
    disposed = true;
    unlisten?.();
  };
}
