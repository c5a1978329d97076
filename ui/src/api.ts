// The app's commands and its one event, typed. Every call goes through Tauri's IPC to the Rust shell.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Rung = "none" | "raw" | "corrected" | "windows" | "reranked" | "chunks";
export const RUNGS: { id: Rung; label: string; hint: string }[] = [
  { id: "none", label: "No context", hint: "the model alone (baseline)" },
  { id: "raw", label: "Raw transcript", hint: "sentences of the transcript as recognised" },
  { id: "corrected", label: "Corrected", hint: "sentences of the newest revision" },
  { id: "windows", label: "Sentence windows", hint: "matched sentences with their neighbours (default)" },
  { id: "reranked", label: "Reranked", hint: "windows reranked by the model's yes/no judgement" },
  { id: "chunks", label: "Paragraphs", hint: "paragraph chunks with lecture metadata" },
];
export type Provider = "auto" | "cpu" | "cuda" | "tensorrt";

export interface Span { start: number; end: number }
export interface Meta { course?: string | null; title?: string | null; date?: string | null; speaker?: string | null }
export interface Lecture {
  id: number; meta: Meta; file_name: string; format: string; encoding: string; created_at: string;
  head: number; revisions: number; chars: number;
}
export interface Segment { span: Span; start_ms: number | null; end_ms: number | null }
export interface Revision {
  id: number; lecture: number; number: number; parent: number | null; kind: string; message: string | null;
  text: string; created_at: string; segments: Segment[];
}
export interface RevisionSummary { id: number; number: number; parent: number | null; kind: string; message: string | null; created_at: string; chars: number }
export interface Draft { lecture: number; parent: number; text: string; updated_at: string }
export interface LectureView { lecture: Lecture; original: Revision; head: Revision; revisions: RevisionSummary[]; draft: Draft | null }
export interface Saved { revision: Revision; index_job: number | null }
export interface Term { id?: number; course: string; term: string; variants: string[] }
export interface Occurrence { span: Span; found: string; replacement: string; term: string; before: string; after: string; whole_term: boolean; applied: boolean }
export interface SuspiciousSpan { span: Span; text: string; score: number; mean_surprisal: number; before: string; after: string }
export interface Scan { revision: number; model: string; tokens: number; spans: SuspiciousSpan[]; seconds: number; provider: string }
export interface Suggestion { span: Span; original: string; replacement: string; source: { kind: "glossary"; term: string } | { kind: "model" }; score: number }
export interface Passage { lecture: number; title: string; course?: string | null; revision: number; span: Span; matched?: Span; text: string; score?: number; start_ms?: number | null; end_ms?: number | null; dense?: number | null }
export interface Citation { n: number; lecture: number; title: string; revision: number; span: Span; start_ms?: number | null; end_ms?: number | null }
export interface Answer {
  question: string; rung: Rung; lang: string; text: string; citations: Citation[]; passages: Passage[];
  not_covered: boolean; gated: boolean; cut: boolean; ms: number;
  stats?: { new_tokens?: number; forward_passes?: number } | null;
  think?: { samples: number; chosen: number; scores: number[]; new_tokens: number; ms: number } | null;
}
export interface Asked { answers: Answer[]; first_text_ms: (number | null)[] }
export interface Settings {
  models_dir: string | null; embedder: string; chat_model: string; provider: Provider; threads: number | null;
  temperature: number; top_p: number; max_tokens: number; speculation: boolean; mode: Rung; k: number; max_prompt_tokens: number;
  lang: "ja" | "en" | null; think_samples: number;
}
export interface ProviderReport { requested: Provider; in_use: Provider; fell_back: [Provider, string][] }
export interface InstalledModel { name: string; dir: string; kind: string | null; languages: string[]; problem: string | null }
export interface AppStatus {
  version: string; db_path: string; settings_path: string; settings: Settings; settings_problem: string | null;
  models: { dir: string; models: InstalledModel[]; embedder_ready: boolean; chat_ready: boolean; help: string };
  runtime: { Ok: string } | { Err: string };
  embedder_provider: ProviderReport | null; chat_provider: ProviderReport | null;
}

export type JobEvent =
  | { type: "progress"; job: number; stage: string; done: number; total: number }
  | { type: "text"; job: number; part: string; text: string }
  | { type: "done"; job: number; result: unknown }
  | { type: "failed"; job: number; message: string }
  | { type: "cancelled"; job: number };

/** Errors from commands carry the core's message, which says what to do. */
export function message(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

export const api = {
  status: () => invoke<AppStatus>("app_status"),
  saveSettings: (settings: Settings) => invoke<AppStatus>("save_settings", { settings }),
  ready: () => invoke<number>("ui_ready"),
  lectures: () => invoke<Lecture[]>("list_lectures"),
  importPaths: (paths: string[]) => invoke<{ job: number; name: string }[]>("import_paths", { paths }),
  importBytes: (name: string, bytes: Uint8Array) =>
    invoke<{ job: number; name: string }>("import_bytes", bytes, { headers: { "x-file-name": encodeURIComponent(name) } }),
  openLecture: (lecture: number) => invoke<LectureView>("open_lecture", { lecture }),
  revision: (revision: number) => invoke<Revision>("revision", { revision }),
  save: (lecture: number, parent: number, text: string, message: string | null) =>
    invoke<Saved>("save_revision", { lecture, parent, text, message }),
  restore: (lecture: number, revision: number) => invoke<Saved>("restore_revision", { lecture, revision }),
  putDraft: (lecture: number, parent: number, text: string) => invoke<Draft>("put_draft", { lecture, parent, text }),
  discardDraft: (lecture: number) => invoke<void>("discard_draft", { lecture }),
  terms: (course: string | null) => invoke<Term[]>("glossary_terms", { course }),
  addTerm: (term: string, variants: string[], course: string) => invoke<Term>("glossary_add", { term, variants, course }),
  glossaryPreview: (revision: number) => invoke<Occurrence[]>("glossary_preview", { revision }),
  glossaryApply: (lecture: number, parent: number, occurrences: Occurrence[]) =>
    invoke<Saved>("glossary_apply", { lecture, parent, occurrences }),
  scan: (revision: number) => invoke<number>("scan_suspicious", { revision }),
  suggest: (revision: number, start: number, end: number) => invoke<Suggestion[]>("suggest", { revision, start, end }),
  accept: (lecture: number, parent: number, suggestion: Suggestion) =>
    invoke<Saved>("accept_suggestion", { lecture, parent, suggestion }),
  ask: (question: string, modes: Rung[], think: boolean) => invoke<number>("ask", { request: { question, modes, think } }),
  cancel: (job: number) => invoke<boolean>("cancel_job", { job }),
};

type Handler = (e: JobEvent) => void;
const handlers = new Map<number, Handler>();
const early = new Map<number, JobEvent[]>();
let unlisten: UnlistenFn | null = null;

/** Start listening to job events (once, at start-up). */
export async function listenToJobs(): Promise<void> {
  if (unlisten) return;
  unlisten = await listen<JobEvent>("job", (e) => dispatch(e.payload));
}

export function dispatch(e: JobEvent): void {
  const h = handlers.get(e.job);
  if (h) h(e);
  else early.set(e.job, [...(early.get(e.job) ?? []), e]); // a fast job may report before its handler is set
  if (e.type === "done" || e.type === "failed" || e.type === "cancelled") {
    if (h) handlers.delete(e.job);
  }
}

/** Follow one job's events; events that arrived before this call are replayed first. */
export function follow(job: number, handler: Handler): void {
  handlers.set(job, handler);
  const queued = early.get(job) ?? [];
  early.delete(job);
  for (const e of queued) dispatch(e);
}

/** A job's end as a promise (its progress and text still go to `onEvent`). */
export function finished<T>(job: number, onEvent: Handler = () => {}): Promise<T> {
  return new Promise((resolve, reject) => {
    follow(job, (e) => {
      onEvent(e);
      if (e.type === "done") resolve(e.result as T);
      else if (e.type === "failed") reject(new Error(e.message));
      else if (e.type === "cancelled") reject(new Error("cancelled"));
    });
  });
}
