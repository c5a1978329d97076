// kogi's window: four screens (Library, Lecture, Ask, Settings) over the Rust shell's commands.
import "./style.css";
import { api, listenToJobs, message, type AppStatus } from "./api";
import { clear, h } from "./dom";
import { mountLibrary } from "./screens/library";
import { mountLecture, type LectureTarget } from "./screens/lecture";
import { mountAsk } from "./screens/ask";
import { mountSettings } from "./screens/settings";

export type Screen = "library" | "lecture" | "ask" | "settings";

export interface Ctx {
  status: AppStatus;
  go(screen: Screen, target?: LectureTarget): void;
  refreshStatus(): Promise<AppStatus>;
  toast(text: string, kind?: "info" | "error"): void;
}

const root = document.getElementById("app")!;
const nav = h("nav", { class: "tabs", role: "tablist" });
const main = h("main", { id: "screen" });
const toasts = h("div", { class: "toasts", "aria-live": "polite" });
let current: { screen: Screen; dispose?: () => void } | null = null;
let lastLecture: LectureTarget | undefined;

const tabs: { id: Screen; label: string }[] = [
  { id: "library", label: "Library 講義" },
  { id: "lecture", label: "Lecture" },
  { id: "ask", label: "Ask 質問" },
  { id: "settings", label: "Settings" },
];

async function start() {
  await listenToJobs();
  let status: AppStatus;
  try {
    status = await api.status();
  } catch (e) {
    root.textContent = `kogi could not start: ${message(e)}`;
    return;
  }
  // Bumped by every status the window takes in (a save, a model chosen): an answer to a refresh asked
  // for before one of them must not put the old settings back.
  let taken = 0;
  const ctx: Ctx = {
    get status() {
      return status;
    },
    set status(st: AppStatus) {
      status = st;
      taken++;
    },
    go,
    async refreshStatus() {
      const asked = taken;
      const st = await api.status();
      if (taken === asked) ctx.status = st;
      return ctx.status;
    },
    toast(text, kind = "info") {
      const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
      toasts.appendChild(t);
      setTimeout(() => t.remove(), kind === "error" ? 9000 : 4000);
    },
  };
  for (const t of tabs) {
    nav.appendChild(h("button", { role: "tab", id: `tab-${t.id}`, "data-screen": t.id, onclick: () => go(t.id) }, t.label));
  }
  clear(root);
  root.append(h("header", { class: "top" }, h("span", { class: "brand" }, "kogi"), nav), main, toasts);

  function go(screen: Screen, target?: LectureTarget) {
    if (screen === "lecture") {
      target = target ?? lastLecture;
      lastLecture = target;
    }
    current?.dispose?.();
    clear(main);
    for (const b of nav.querySelectorAll("button")) b.setAttribute("aria-selected", String(b.dataset.screen === screen));
    main.dataset.screen = screen;
    let dispose: (() => void) | undefined;
    if (screen === "library") dispose = mountLibrary(main, ctx);
    else if (screen === "lecture") dispose = mountLecture(main, ctx, target);
    else if (screen === "ask") dispose = mountAsk(main, ctx);
    else dispose = mountSettings(main, ctx);
    current = { screen, dispose };
  }

  go("library");
  root.removeAttribute("aria-busy");
  root.dataset.ready = "true";
  api.ready().catch(() => {});
}

start();
