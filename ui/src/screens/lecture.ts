// Lecture: raw and corrected side by side, edit in place, find, glossary replace-all with a preview,
// suspicious passages with suggestions, revision history with restore. Typing is kept as a draft.
// With a recording, a player: from the caret's segment, the segment heard highlighted.
import { api, finished, message, type JobEvent, type LectureView, type Occurrence, type Revision, type Scan, type Saved, type Suggestion } from "../api";
import { clear, h, progressBar } from "../dom";
import { TranscriptEditor } from "../editor";
import { debounce, draftWorthOffering, percent, shortClock } from "../text";
import { lecturePlayer, mediaInfo, recordingUrl, type LecturePlayer } from "../player";
import type { Ctx } from "../main";
import type { TermSuggestion } from "../bindings/TermSuggestion";

/** What to open: a lecture, and optionally a cited passage in one of its revisions. */
export interface LectureTarget {
  lecture: number;
  revision?: number;
  span?: { start: number; end: number };
}

export function mountLecture(el: HTMLElement, ctx: Ctx, target?: LectureTarget): () => void {
  if (!target) {
    el.append(h("h1", {}, "Lecture"), h("p", { class: "empty" }, "Open a lecture from the Library, or follow a citation from an answer."));
    return () => {};
  }
  const header = h("div", { class: "lecture-header" });
  const banner = h("div", { class: "banners" });
  const toolbar = h("div", { class: "toolbar" });
  const playerBox = h("div", { class: "player-box" });
  const editorBox = h("div", { class: "editor", id: "editor" });
  const side = h("aside", { class: "side" });
  const status = h("div", { class: "statusline", id: "lecture-status" });
  el.append(header, banner, toolbar, playerBox, h("div", { class: "lecture-body" }, h("div", { class: "editor-col" }, h("div", { class: "editor-labels" }, h("span", {}, "Raw (as recognised)"), h("span", { id: "working-label" }, "Corrected (editable)")), editorBox), side), status);

  const editor = new TranscriptEditor(editorBox);
  let view: LectureView;
  let head: Revision;
  let dirty = false;
  let viewingOld = false;
  let disposed = false;
  let player: LecturePlayer | null = null;
  const saveDraft = debounce((text: string) => {
    if (disposed || !dirty) return;
    api.putDraft(view.lecture.id, head.id, text).then(() => setStatus("Draft kept (unsaved)")).catch((e) => ctx.toast(message(e), "error"));
  }, 700);

  function setStatus(text: string) {
    status.textContent = text;
  }

  function onEdit(text: string) {
    dirty = text !== head.text;
    saveBtn.disabled = !dirty;
    saveBtn.textContent = dirty ? "Save revision •" : "Save revision";
    saveDraft(text);
  }

  const saveBtn = h("button", { class: "primary", id: "save", disabled: true, onclick: () => save() }, "Save revision");
  toolbar.append(
    saveBtn,
    h("button", { id: "find", onclick: () => editor.find() }, "Find / replace"),
    h("button", { id: "open-glossary", onclick: () => showGlossary() }, "Glossary"),
    h("button", { id: "open-suspicious", onclick: () => showSuspicious() }, "Suspicious passages"),
    h("button", { id: "open-history", onclick: () => showHistory() }, "History"),
  );
  const linkBtn = h("button", { id: "link-recording", title: "Keep the lecture's recording with it, to listen while correcting", onclick: () => askForRecording() }, "Link a recording…");

  async function load(t: LectureTarget) {
    try {
      view = await api.openLecture(t.lecture);
    } catch (e) {
      clear(el);
      el.append(h("p", { class: "error" }, message(e)));
      return;
    }
    head = view.head;
    const l = view.lecture;
    clear(header);
    header.append(
      h("h1", {}, l.meta.title ?? l.file_name),
      h("p", { class: "meta" }, [l.meta.course, l.meta.date, l.meta.speaker].filter(Boolean).join(" · ") || l.file_name, ` · revision ${head.number} of ${l.revisions}`),
    );
    clear(banner);
    viewingOld = t.revision !== undefined && t.revision !== head.id;
    if (viewingOld) {
      const old = await api.revision(t.revision!);
      editor.showOne(old.text);
      document.getElementById("working-label")!.textContent = `Revision ${old.number} (cited; read-only)`;
      const why = t.span ? `This passage was cited from revision ${old.number}; the lecture has been edited since. ` : `Revision ${old.number} is shown read-only. `;
      banner.append(
        h("div", { class: "notice" }, why, h("button", { class: "link", onclick: () => load({ lecture: l.id }) }, "Open the newest revision")),
      );
      if (t.span) showCited(old, t.span);
      listen(old);
    } else {
      editor.showSideBySide(view.original.text, head.text, onEdit, true);
      document.getElementById("working-label")!.textContent = `Revision ${head.number} (editable)`;
      if (t.span) showCited(head, t.span);
      offerDraft();
      listen(head);
    }
    dirty = false;
    saveBtn.disabled = true;
    saveBtn.hidden = viewingOld;
    setStatus(`${head.text.length.toLocaleString()} characters · ${view.revisions.length} revision${view.revisions.length === 1 ? "" : "s"} kept`);
    showHistory();
  }

  /** The player for the lecture's recording, kept across reloads of the same recording (a save
   * does not stop it), over the shown revision's segments; otherwise a way to link one. */
  async function listen(rev: Revision) {
    const rec = view.recording;
    linkBtn.remove();
    if (!rec) {
      player?.destroy();
      player = null;
      toolbar.append(linkBtn);
      return;
    }
    if (player?.file !== rec.file) {
      let url: string;
      try {
        url = await recordingUrl(rec);
      } catch (e) {
        player?.destroy();
        player = null;
        playerBox.replaceChildren(h("p", { class: "error", id: "player-problem" }, message(e)));
        return;
      }
      // Another load may have come meanwhile.
      if (disposed || view.recording?.file !== rec.file) return;
      player?.destroy();
      player = lecturePlayer(rec, url, editor, () => askForRecording());
      playerBox.replaceChildren(player.el);
    }
    player.setSegments(rev.segments.filter((s) => s.start_ms !== null).map((s) => ({ start: s.span.start, end: s.span.end, ms: s.start_ms! })));
  }

  function askForRecording() {
    const path = h("input", { id: "recording-path", placeholder: "/home/you/lectures/week4.m4a", size: 50 });
    const form = h(
      "form",
      { class: "link-recording", id: "link-recording-form", onsubmit: async (e: Event) => {
        e.preventDefault();
        go.disabled = true;
        go.textContent = "Copying…";
        try {
          const rec = await api.linkRecording(view.lecture.id, path.value);
          ctx.toast(`${rec.original_name} is kept with this lecture.`);
          mediaInfo(true);
          form.remove();
          await load({ lecture: view.lecture.id });
        } catch (err) {
          ctx.toast(message(err), "error");
          go.disabled = false;
          go.textContent = "Link";
        }
      } },
      h("label", {}, "Recording of this lecture (full path): ", path),
      h("button", { type: "submit", class: "primary", id: "link-recording-go" }, "Link"),
      h("button", { type: "button", class: "link", onclick: () => form.remove() }, "Cancel"),
      h("small", {}, "It is copied into kogi's media folder; MP3, M4A, WAV, FLAC, Ogg, MP4 …"),
    );
    const go = form.querySelector<HTMLButtonElement>("#link-recording-go")!;
    document.getElementById("link-recording-form")?.remove();
    playerBox.prepend(form);
    path.focus();
  }

  function showCited(rev: Revision, span: { start: number; end: number }) {
    editor.mark([{ ...span, kind: "cited" }], true);
    const seg = rev.segments.find((s) => s.span.start <= span.start && span.start < s.span.end && s.start_ms !== null);
    const when = seg && seg.start_ms !== null ? ` at ${shortClock(seg.start_ms)}` : "";
    banner.append(h("div", { class: "notice cited", id: "cited-banner" }, `Cited passage highlighted${when}.`));
  }

  function offerDraft() {
    const d = view.draft;
    if (!d || !draftWorthOffering(d, head)) return;
    const stale = d.parent !== head.id;
    const box = h(
      "div",
      { class: "notice draft", id: "draft-offer" },
      `Unsaved edits from ${new Date(d.updated_at).toLocaleString()} were kept${stale ? " (made on an older revision)" : ""}. `,
      h("button", { class: "primary", onclick: () => { editor.setText(d.text); box.remove(); } }, "Restore them"),
      h("button", { class: "link", onclick: async () => { await api.discardDraft(view.lecture.id); box.remove(); } }, "Discard"),
    );
    banner.append(box);
  }

  async function save() {
    const text = editor.text();
    try {
      const saved = await api.save(view.lecture.id, head.id, text, null);
      afterSave(saved, `Saved as revision ${saved.revision.number}`);
    } catch (e) {
      ctx.toast(message(e), "error");
    }
  }

  /** A new revision exists: show it, and follow its background re-index. */
  function afterSave(saved: Saved, text: string) {
    ctx.toast(text);
    dirty = false;
    load({ lecture: view.lecture.id }).then(() => {
      if (saved.index_job !== null) followIndex(saved.index_job);
    });
  }

  function followIndex(job: number) {
    const bar = progressBar("Re-indexing…", () => api.cancel(job));
    bar.el.id = "reindex";
    status.append(bar.el);
    finished<{ embedded: number; reused: number }>(job, (e: JobEvent) => {
      if (e.type === "progress") bar.set(percent(e.done, e.total), `Re-indexing: ${e.stage}`);
    })
      .then((r) => bar.finish(`Index up to date (${r.embedded} passages embedded, ${r.reused} reused)`))
      .catch((e) => bar.finish(`Re-indexing stopped: ${message(e)}`, true));
  }

  function needSaved(): boolean {
    if (viewingOld) {
      ctx.toast("Open the newest revision first.", "error");
      return false;
    }
    if (dirty) {
      ctx.toast("Save your edits first: the glossary and suggestions work on a saved revision.", "error");
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------------------- glossary
  function showGlossary() {
    clear(side);
    const course = view.lecture.meta.course ?? "";
    const termIn = h("input", { id: "term", placeholder: "Right spelling, e.g. スケーリング則" });
    const varIn = h("input", { id: "variants", placeholder: "Heard as (comma-separated), e.g. スケーリングソク" });
    const terms = h("ul", { class: "terms" });
    const preview = h("div", { class: "preview", id: "glossary-preview" });
    const found = h("div", { class: "preview", id: "glossary-misheard" });
    side.append(
      h("h2", {}, "Glossary", course ? ` — ${course}` : ""),
      terms,
      h("form", { class: "add-term", onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await api.addTerm(termIn.value, varIn.value.split(/[,，、]/), course);
          termIn.value = varIn.value = "";
          listTerms();
        } catch (err) {
          ctx.toast(message(err), "error");
        }
      } }, termIn, varIn, h("button", { type: "submit", id: "add-term" }, "Add term")),
      h("button", { class: "primary", id: "glossary-preview-btn", onclick: () => runPreview() }, "Preview replace-all"),
      h("button", { id: "glossary-suggest-btn", onclick: () => findMisheard() }, "Find likely mishearings"),
      found,
      preview,
    );
    // Spans spelled or sounding like a term (or like what the lecture says often): adding one as a
    // variant puts it in the replace-all preview, where each occurrence is still checked by a person.
    async function findMisheard() {
      if (!needSaved()) return;
      clear(found);
      let list: TermSuggestion[];
      try {
        list = await api.glossarySuggestions(view.lecture.id);
      } catch (e) {
        found.append(h("p", { class: "error" }, message(e)));
        return;
      }
      if (list.length === 0) {
        found.append(h("p", {}, "Nothing in this revision looks or sounds like a glossary term."));
        return;
      }
      const why: Record<string, string> = { glossary: "spelled like the term", frequency: "spelled like a frequent word", reading: "sounds like the term", homophone: "sounds like a frequent word", loanword: "the term written in katakana" };
      const rows = list.map((s) => {
        const add = h("button", { type: "button", class: "link add-variant", onclick: async () => {
          try {
            await api.addTerm(s.term, [s.variant], course);
            add.replaceWith(h("span", { class: "hint" }, "added — preview to apply"));
            listTerms();
          } catch (e) {
            ctx.toast(message(e), "error");
          }
        } }, "Add as variant");
        // The pair first, then where it was heard (the first place of ×count).
        return h(
          "li",
          { class: `misheard ${s.source}` },
          h("div", {}, h("del", {}, s.variant), " → ", h("ins", {}, s.term), ` ×${s.count} `, h("small", {}, why[s.source] ?? s.source), " ", add),
          h("div", { class: "ctx" }, "…", s.before, h("mark", {}, s.variant), s.after, "…"),
        );
      });
      found.append(h("p", {}, `${list.length} likely mishearing(s); adding one changes nothing until you apply the preview.`), h("ul", { class: "occurrences", id: "misheard" }, ...rows));
    }
    async function listTerms() {
      clear(terms);
      for (const t of await api.terms(course || null)) {
        terms.append(h("li", {}, h("strong", {}, t.term), t.variants.length ? ` ← ${t.variants.join("、")}` : ""));
      }
    }
    async function runPreview() {
      if (!needSaved()) return;
      clear(preview);
      let occ: Occurrence[];
      try {
        occ = await api.glossaryPreview(head.id);
      } catch (e) {
        preview.append(h("p", { class: "error" }, message(e)));
        return;
      }
      if (occ.length === 0) {
        preview.append(h("p", {}, "No variant of a glossary term occurs in this revision."));
        return;
      }
      const rows = occ.map((o, i) => {
        const box = h("input", { type: "checkbox", "data-i": i });
        box.checked = o.applied;
        box.addEventListener("change", () => (o.applied = box.checked));
        return h("li", { class: o.whole_term ? "" : "partial" }, h("label", {}, box, " ", h("span", { class: "ctx" }, o.before), h("del", {}, o.found), h("ins", {}, o.replacement), h("span", { class: "ctx" }, o.after), o.whole_term ? "" : " (inside a longer word)"));
      });
      const apply = h("button", { class: "primary", id: "glossary-apply", onclick: async () => {
        try {
          const saved = await api.glossaryApply(view.lecture.id, head.id, occ);
          afterSave(saved, `Glossary applied as revision ${saved.revision.number}`);
          clear(preview);
        } catch (e) {
          ctx.toast(message(e), "error");
        }
      } }, `Apply checked replacements`);
      preview.append(h("p", {}, `${occ.length} occurrence(s); nothing changes until you apply.`), h("ul", { class: "occurrences" }, ...rows), apply);
    }
    listTerms();
  }

  // ----------------------------------------------------------------------------- suspicious
  function showSuspicious() {
    clear(side);
    const out = h("div", { id: "suspicious" });
    side.append(h("h2", {}, "Suspicious passages"), h("p", { class: "hint" }, "The language model reads the transcript and flags what surprises it most — often mis-recognised words."), h("button", { class: "primary", id: "scan", onclick: () => scan() }, "Scan this revision"), out);
    async function scan() {
      if (!needSaved()) return;
      clear(out);
      const job = await api.scan(head.id);
      const bar = progressBar("Scanning…", () => api.cancel(job));
      out.append(bar.el);
      try {
        const s = await finished<Scan>(job, (e) => e.type === "progress" && bar.set(percent(e.done, e.total), e.stage));
        bar.finish(`${s.spans.length} passages flagged (${s.tokens} tokens, ${s.seconds.toFixed(1)} s on ${s.provider})`);
        editor.mark(s.spans.map((x) => ({ ...x.span, kind: "suspicious" as const })));
        const list = h("ol", { class: "flags" });
        for (const sp of s.spans.slice(0, 50)) {
          const sugg = h("div", { class: "suggestions" });
          list.append(h("li", {}, h("button", { class: "link flag", onclick: () => pick(sp.span, sugg) }, h("span", { class: "ctx" }, sp.before), h("mark", {}, sp.text), h("span", { class: "ctx" }, sp.after)), ` ${sp.score.toFixed(2)}`, sugg));
        }
        out.append(list);
      } catch (e) {
        bar.finish(message(e), true);
      }
    }
    async function pick(span: { start: number; end: number }, box: HTMLElement) {
      editor.mark([{ ...span, kind: "selected" }], true);
      clear(box);
      box.append(h("span", { class: "hint" }, "Asking for suggestions…"));
      let ss: Suggestion[];
      try {
        ss = await api.suggest(head.id, span.start, span.end);
      } catch (e) {
        clear(box);
        box.append(h("span", { class: "error" }, message(e)));
        return;
      }
      clear(box);
      if (ss.length === 0) box.append(h("span", { class: "hint" }, "No better spelling found."));
      for (const s of ss) {
        const row = h("div", { class: "suggestion" }, h("ins", {}, s.replacement), ` ${s.source.kind === "glossary" ? "glossary" : "model"} ${s.score.toFixed(2)} `);
        row.append(
          h("button", { onclick: async () => {
            try {
              const saved = await api.accept(view.lecture.id, head.id, s);
              afterSave(saved, `Accepted as revision ${saved.revision.number}`);
            } catch (e) {
              ctx.toast(message(e), "error");
            }
          } }, "Accept"),
          h("button", { class: "link", onclick: () => row.remove() }, "Reject"),
        );
        box.append(row);
      }
    }
  }

  // -------------------------------------------------------------------------------- history
  function showHistory() {
    clear(side);
    const list = h("ol", { class: "history", reversed: true });
    for (const r of view.revisions) {
      const isHead = r.id === head.id;
      list.append(
        h("li", { "data-revision": r.id },
          h("strong", {}, `#${r.number} ${r.kind}`), isHead ? " (newest)" : "",
          h("div", { class: "hint" }, `${new Date(r.created_at).toLocaleString()} · ${r.chars.toLocaleString()} chars`),
          r.message ? h("div", {}, r.message) : "",
          h("button", { class: "link", onclick: () => load({ lecture: view.lecture.id, revision: r.id }) }, "View"),
          isHead ? "" : h("button", { class: "link", onclick: async () => {
            try {
              const saved = await api.restore(view.lecture.id, r.id);
              afterSave(saved, `Revision ${r.number} restored as revision ${saved.revision.number}`);
            } catch (e) {
              ctx.toast(message(e), "error");
            }
          } }, "Restore"),
        ),
      );
    }
    side.append(h("h2", {}, "History"), h("p", { class: "hint" }, "Every revision is kept; restoring makes a new one."), list);
  }

  load(target);
  const beforeUnload = () => saveDraft.flush();
  window.addEventListener("beforeunload", beforeUnload);
  return () => {
    saveDraft.flush();
    disposed = true;
    window.removeEventListener("beforeunload", beforeUnload);
    player?.destroy();
    editor.destroy();
  };
}
