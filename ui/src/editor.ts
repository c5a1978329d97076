// The transcript editor: CodeMirror 6. Raw (revision 1) and the working copy side by side with the
// differences marked (@codemirror/merge), find/replace panel, undo history, and marks for suspicious
// passages and cited passages; with a recording, a gutter of segment times and the segment being
// heard.
import { MergeView } from "@codemirror/merge";
import { EditorState, StateEffect, StateField, type Extension, type Range } from "@codemirror/state";
import { Decoration, EditorView, GutterMarker, gutter, keymap, lineNumbers, type DecorationSet } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { search, searchKeymap, openSearchPanel, highlightSelectionMatches } from "@codemirror/search";
import { codePointToUtf16, codePointsToUtf16, shortClock } from "./text";

export interface Mark { from: number; to: number; kind: "suspicious" | "cited" | "selected" }

const setMarks = StateEffect.define<Mark[]>();
const marks = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(setMarks)) {
        const ranges: Range<Decoration>[] = e.value
          .filter((m) => m.to > m.from && m.to <= tr.state.doc.length)
          .map((m) => Decoration.mark({ class: `cm-${m.kind}` }).range(m.from, m.to));
        deco = Decoration.set(ranges, true);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** A timed segment of the shown text, in UTF-16 positions that follow the edits. */
interface Seg { from: number; to: number; ms: number }

const setSegs = StateEffect.define<Seg[]>();
const segs = StateField.define<Seg[]>({
  create: () => [],
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setSegs)) return e.value;
    if (!tr.docChanged || value.length === 0) return value;
    // Text typed at a segment's start or end stays in that segment.
    return value.map((s) => ({ ...s, from: tr.changes.mapPos(s.from, -1), to: tr.changes.mapPos(s.to, 1) }));
  },
});

/** The first segment starting in [from, to], or -1. */
function firstStartIn(list: Seg[], from: number, to: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].from < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo].from <= to ? lo : -1;
}

const setPlaying = StateEffect.define<number | null>();
const playing = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setPlaying)) continue;
      const s = e.value === null ? undefined : tr.state.field(segs)[e.value];
      deco = s && s.to > s.from ? Decoration.set([Decoration.mark({ class: "cm-playing" }).range(s.from, s.to)]) : Decoration.none;
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

class TimeMarker extends GutterMarker {
  constructor(readonly ms: number) {
    super();
  }
  eq(other: TimeMarker) {
    return other.ms === this.ms;
  }
  toDOM() {
    const el = document.createElement("span");
    el.className = "cm-time";
    el.dataset.ms = String(this.ms);
    el.title = "Play from here";
    el.textContent = shortClock(this.ms);
    return el;
  }
}

function base(readOnly: boolean, onChange?: (text: string) => void, extra: Extension[] = []): Extension[] {
  const ext: Extension[] = [
    ...extra,
    lineNumbers(),
    EditorView.lineWrapping,
    marks,
    search({ top: true }),
    highlightSelectionMatches(),
    keymap.of([...searchKeymap, ...defaultKeymap]),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
  ];
  if (!readOnly) ext.push(history(), keymap.of(historyKeymap));
  if (onChange) ext.push(EditorView.updateListener.of((u) => u.docChanged && onChange(u.state.doc.toString())));
  return ext;
}

export class TranscriptEditor {
  private merge: MergeView | null = null;
  private single: EditorView | null = null;

  private onSeek: ((ms: number) => void) | null = null;
  private editedAt = 0;

  constructor(private parent: HTMLElement) {}

  /** The shown revision's segments with times: a time in the gutter, the one heard highlighted. */
  private timed(): Extension[] {
    return [
      segs,
      playing,
      gutter({
        class: "cm-times",
        lineMarker: (view, line) => {
          const list = view.state.field(segs);
          const i = firstStartIn(list, line.from, line.to);
          return i < 0 ? null : new TimeMarker(list[i].ms);
        },
        lineMarkerChange: (u) => u.transactions.some((tr) => tr.effects.some((e) => e.is(setSegs))),
        domEventHandlers: {
          mousedown: (view, line) => {
            const list = view.state.field(segs);
            const i = firstStartIn(list, line.from, line.to);
            if (i < 0 || !this.onSeek) return false;
            this.onSeek(list[i].ms);
            return true;
          },
        },
      }),
      EditorView.updateListener.of((u) => {
        if (u.docChanged) this.editedAt = Date.now();
      }),
    ];
  }

  /** Timed segments by code-point spans of the shown text; a click on a time calls `onSeek`. */
  setSegments(list: { start: number; end: number; ms: number }[], onSeek: (ms: number) => void): void {
    this.onSeek = onSeek;
    const v = this.view;
    const at = codePointsToUtf16(v.state.doc.toString(), list.flatMap((s) => [s.start, s.end]));
    v.dispatch({ effects: setSegs.of(list.map((s, i) => ({ from: at[2 * i], to: at[2 * i + 1], ms: s.ms }))) });
  }

  /** The segment the caret is in (or last before it), as an index of `setSegments`' list. */
  segmentAtCaret(): number | null {
    const v = this.view;
    const list = v.state.field(segs, false) ?? [];
    const pos = v.state.selection.main.head;
    let i = list.length - 1;
    while (i >= 0 && list[i].from > pos) i--;
    return list.length === 0 ? null : Math.max(i, 0);
  }

  /** Highlight the segment being heard; it is kept in view unless the person is typing. */
  highlight(i: number | null): void {
    const v = this.view;
    const s = i === null ? undefined : v.state.field(segs, false)?.[i];
    const follow = s && Date.now() - this.editedAt > 4000;
    v.dispatch({ effects: follow ? [setPlaying.of(i), EditorView.scrollIntoView(s.from, { y: "nearest", yMargin: 40 })] : setPlaying.of(i) });
  }

  /** Raw on the left (read-only), the working copy on the right; `onChange` gets every edit. */
  showSideBySide(raw: string, working: string, onChange: (text: string) => void, editable = true): void {
    this.destroy();
    this.merge = new MergeView({
      a: { doc: raw, extensions: base(true) },
      b: { doc: working, extensions: base(!editable, onChange, this.timed()) },
      parent: this.parent,
      highlightChanges: true,
      gutter: true,
      collapseUnchanged: undefined,
    });
  }

  /** One revision alone, read-only (a cited older revision). */
  showOne(text: string): void {
    this.destroy();
    this.single = new EditorView({ doc: text, extensions: base(true, undefined, this.timed()), parent: this.parent });
  }

  get view(): EditorView {
    return this.merge ? this.merge.b : this.single!;
  }

  text(): string {
    return this.view.state.doc.toString();
  }

  /** Replace the whole working text (a restored draft, a saved glossary revision) as one undoable change. */
  setText(text: string): void {
    const v = this.view;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text } });
  }

  /** Marks by code-point spans of the working text; `focus` scrolls the first into view and selects it. */
  mark(spans: { start: number; end: number; kind: Mark["kind"] }[], focus = false): void {
    const v = this.view;
    const doc = v.state.doc.toString();
    const ms: Mark[] = spans.map((s) => ({ from: codePointToUtf16(doc, s.start), to: codePointToUtf16(doc, s.end), kind: s.kind }));
    v.dispatch({ effects: setMarks.of(ms), selection: focus && ms.length > 0 ? { anchor: ms[0].from } : undefined });
    if (focus && ms.length > 0) this.scrollTo(ms[0].from);
  }

  /** Scroll a position near the top. Wrapped lines far down have only estimated heights until they
   * are drawn, so scroll again once the first scroll has made CodeMirror measure them. */
  private scrollTo(pos: number): void {
    const scroll = () => this.view.dispatch({ effects: EditorView.scrollIntoView(pos, { y: "start", yMargin: 48 }) });
    scroll();
    for (const ms of [60, 200, 500]) setTimeout(() => this.merge || this.single ? scroll() : undefined, ms);
  }

  find(): void {
    openSearchPanel(this.view);
  }

  destroy(): void {
    this.merge?.destroy();
    this.single?.destroy();
    this.merge = null;
    this.single = null;
  }
}
