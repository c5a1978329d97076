// Library: lectures by course; import by drag-and-drop or the file picker, a progress bar per file.
import { api, finished, message, type JobEvent, type Lecture } from "../api";
import { clear, h, progressBar } from "../dom";
import { groupByCourse, percent } from "../text";
import type { Ctx } from "../main";
import { getCurrentWebview } from "@tauri-apps/api/webview";

export function mountLibrary(el: HTMLElement, ctx: Ctx): () => void {
  const list = h("section", { class: "lectures", "aria-label": "Lectures" });
  const imports = h("div", { class: "imports", id: "imports" });
  const picker = h("input", { type: "file", id: "file-input", multiple: true, accept: ".txt,.srt,.vtt,.json,text/plain", class: "visually-hidden" });
  const drop = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drop transcripts here — plain text, SRT, WebVTT or JSON; UTF-8, UTF-16 or Shift_JIS."),
    h("button", { class: "primary", onclick: () => picker.click() }, "Choose files…"),
  );
  const models = ctx.status.models;
  const notice = models.embedder_ready && models.chat_ready
    ? null
    : h("div", { class: "notice", id: "models-missing" }, h("strong", {}, "Models are not installed yet. "), h("pre", {}, models.help));
  el.append(h("h1", {}, "Library"), notice ?? "", drop, picker, imports, list);

  async function refresh() {
    let lectures: Lecture[];
    try {
      lectures = await api.lectures();
    } catch (e) {
      ctx.toast(message(e), "error");
      return;
    }
    clear(list);
    if (lectures.length === 0) {
      list.append(h("p", { class: "empty" }, "No lectures yet. Import a transcript to begin."));
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
    try {
      const r = await finished<{ created: boolean; lecture: Lecture }>(job, (e: JobEvent) => {
        if (e.type === "progress") bar.set(e.stage === "indexing" ? percent(e.done, e.total) : 5, `${name} — ${e.stage}`);
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
