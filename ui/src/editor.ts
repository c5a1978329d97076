// The transcript editor: CodeMirror 6. Raw (revision 1) and the working copy side by side with the
// differences marked (@codemirror/merge), find/replace panel, undo history, and marks for suspicious
// passages and cited passages.
import { MergeView } from "@codemirror/merge";
import { EditorState, StateEffect, StateField, type Extension, type Range } from "@codemirror/state";
import { Decoration, EditorView, keymap, lineNumbers, type DecorationSet } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { search, searchKeymap, openSearchPanel, highlightSelectionMatches } from "@codemirror/search";
import { codePointToUtf16 } from "./text";

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

function base(readOnly: boolean, onChange?: (text: string) => void): Extension[] {
  const ext: Extension[] = [
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

  constructor(private parent: HTMLElement) {}

  /** Raw on the left (read-only), the working copy on the right; `onChange` gets every edit. */
  showSideBySide(raw: string, working: string, onChange: (text: string) => void, editable = true): void {
    this.destroy();
    this.merge = new MergeView({
      a: { doc: raw, extensions: base(true) },
      b: { doc: working, extensions: base(!editable, onChange) },
      parent: this.parent,
      highlightChanges: true,
      gutter: true,
      collapseUnchanged: undefined,
    });
  }

  /** One revision alone, read-only (a cited older revision). */
  showOne(text: string): void {
    this.destroy();
    this.single = new EditorView({ doc: text, extensions: base(true), parent: this.parent });
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
