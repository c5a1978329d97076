// Listening to a lecture's recording: the player of the Lecture screen (from the caret's segment,
// the segment heard highlighted) and short clips of cited passages (Ask). Recordings come from the
// shell's own loopback server, the only media origin the CSP allows.
import { api, type MediaInfo, type Recording } from "./api";
import { h } from "./dom";
import type { TranscriptEditor } from "./editor";
import { lastAtOrBefore, shortClock } from "./text";

let info: Promise<MediaInfo> | null = null;

/** Where recordings play from and what they take on disk (`fresh` after an import or a link). */
export function mediaInfo(fresh = false): Promise<MediaInfo> {
  if (fresh || !info) info = api.mediaInfo();
  info.catch(() => (info = null));
  return info;
}

export async function recordingUrl(r: Recording): Promise<string> {
  const m = await mediaInfo();
  if (!m.url) throw new Error(m.problem ?? "recordings cannot play");
  return m.url + encodeURIComponent(r.file);
}

/** What a media error means for the person. */
export function playbackProblem(a: HTMLMediaElement): string {
  if (a.error?.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED || a.error?.code === MediaError.MEDIA_ERR_DECODE) {
    return "This system cannot play the recording's format: install GStreamer's plugins (gstreamer1.0-plugins-good, gstreamer1.0-libav) and restart kogi.";
  }
  return `The recording could not be played${a.error?.message ? ` (${a.error.message})` : ""}.`;
}

/** Seek, then play. A seek before the player knows the recording's length would be lost. */
export async function playFrom(a: HTMLMediaElement, seconds: number): Promise<void> {
  if (a.readyState < HTMLMediaElement.HAVE_METADATA) {
    await new Promise<void>((resolve, reject) => {
      a.addEventListener("loadedmetadata", () => resolve(), { once: true });
      a.addEventListener("error", () => reject(new Error(playbackProblem(a))), { once: true });
      if (a.preload === "none") a.load();
    });
  }
  a.currentTime = seconds;
  // Playing while WebKitGTK's pipeline is still seeking can leave the clock stuck: play once it has landed.
  if (a.seeking) {
    await new Promise<void>((resolve, reject) => {
      a.addEventListener("seeked", () => resolve(), { once: true });
      a.addEventListener("error", () => reject(new Error(playbackProblem(a))), { once: true });
    });
  }
  await a.play();
}

/** WebKitGTK's GStreamer pipeline can stall with the clock frozen just after a seek (seen on CI's machine): a
 * clock that should be moving and has not for `stillMs` is nudged with a seek to where it stands, and if it is
 * still frozen at the next check, stopped and started again. Each nudge is counted in `data-nudges`. Returns the
 * function that stops watching. */
export function nudgeStalledClock(a: HTMLMediaElement, everyMs = 500, stillMs = 1500): () => void {
  let lastT = -1;
  let still = 0;
  let nudges = 0;
  let tries = 0;
  const timer = setInterval(() => {
    // A stall can leave readyState at HAVE_CURRENT_DATA for good (seen on CI: 29.01 s, readyState 2), so only
    // an element with no data at all yet counts as loading.
    if (a.paused || a.seeking || a.ended || a.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      lastT = -1;
      still = 0;
    } else if (a.currentTime !== lastT) {
      lastT = a.currentTime;
      still = 0;
      tries = 0;
    } else if ((still += everyMs) >= stillMs) {
      still = 0;
      a.dataset.nudges = String(++nudges);
      if (tries++ % 2 === 0) {
        a.currentTime = lastT;
      } else {
        a.pause();
        a.play().catch(() => {});
      }
    }
  }, everyMs);
  return () => clearInterval(timer);
}

export const SHORTCUT = { toggle: "Alt+P", back: "Alt+B" };
const BACK_S = 5;
const SPEEDS = [0.75, 1, 1.25, 1.5, 1.75, 2];

/** The Lecture screen's player. `segments` are the shown revision's timed segments (text order,
 * as given to the editor). */
export function lecturePlayer(rec: Recording, url: string, editor: TranscriptEditor, onReplace: () => void) {
  const audio = h("audio", { id: "player-audio", preload: "metadata", src: url });
  const toggle = h("button", { class: "primary", id: "player-toggle", title: `Play from the segment at the cursor, or pause (${SHORTCUT.toggle})` }, "▶ Play");
  const back = h("button", { id: "player-back", title: `Replay the last ${BACK_S} seconds (${SHORTCUT.back})` }, `↺ ${BACK_S} s`);
  const time = h("span", { class: "player-time", id: "player-time" }, "0:00");
  const seek = h("input", { type: "range", id: "player-seek", min: 0, max: 1000, value: 0, "aria-label": "Position in the recording" });
  const speed = h("select", { id: "player-speed", title: "Playback speed" }, ...SPEEDS.map((s) => h("option", { value: s }, `${s}×`)));
  const problem = h("span", { class: "error", id: "player-problem", hidden: true });
  const el = h(
    "div",
    { class: "player", id: "player", "data-file": rec.file },
    audio,
    toggle,
    back,
    time,
    seek,
    h("label", {}, "Speed ", speed),
    h("small", { class: "player-keys" }, `${SHORTCUT.toggle} play/pause at the cursor · ${SHORTCUT.back} back ${BACK_S} s · click a time to jump`),
    h("small", { class: "player-file", title: `${rec.original_name}, kept in kogi's media folder` }, rec.original_name),
    h("button", { class: "link", id: "replace-recording", onclick: onReplace }, "Replace…"),
    problem,
  );
  speed.value = String(Number(localStorage.getItem("kogi.playbackRate")) || 1);
  const rate = () => Number(speed.value);
  speed.addEventListener("change", () => {
    audio.playbackRate = rate();
    localStorage.setItem("kogi.playbackRate", speed.value);
  });
  audio.addEventListener("loadedmetadata", () => (audio.playbackRate = rate()));

  let starts: number[] = [];
  let order: number[] = [];
  let heard: number | null = null;
  // The caret's segment when playing last started: pressing play again without moving the caret
  // away resumes instead of going back.
  let startedAt: number | null | undefined;

  const duration = () => (Number.isFinite(audio.duration) ? audio.duration : (rec.duration_ms ?? 0) / 1000);
  function show() {
    const t = audio.currentTime;
    time.textContent = `${shortClock(t * 1000)} / ${shortClock(duration() * 1000)}`;
    if (document.activeElement !== seek && duration() > 0) seek.value = String(Math.round((1000 * t) / duration()));
    const k = lastAtOrBefore(starts, t * 1000);
    const i = k < 0 ? null : order[k];
    if (i !== heard) {
      heard = i;
      editor.highlight(i);
    }
  }
  const stopWatchdog = nudgeStalledClock(audio);
  audio.addEventListener("timeupdate", show);
  audio.addEventListener("seeked", show);
  audio.addEventListener("play", () => (toggle.textContent = "❚❚ Pause"));
  audio.addEventListener("pause", () => (toggle.textContent = "▶ Play"));
  audio.addEventListener("error", () => {
    problem.textContent = playbackProblem(audio);
    problem.hidden = false;
  });
  seek.addEventListener("input", () => (audio.currentTime = (Number(seek.value) / 1000) * duration()));

  const fail = (e: unknown) => {
    problem.textContent = e instanceof Error && e.name === "NotSupportedError" ? playbackProblem(audio) : String(e instanceof Error ? e.message : e);
    problem.hidden = false;
  };
  function playPause() {
    if (!audio.paused) {
      audio.pause();
      return;
    }
    const at = editor.segmentAtCaret();
    const from = at !== null && at !== startedAt ? starts[order.indexOf(at)] : null;
    startedAt = at;
    (from !== null && from !== undefined ? playFrom(audio, from / 1000) : audio.play()).catch(fail);
  }
  function jump(ms: number) {
    startedAt = editor.segmentAtCaret();
    playFrom(audio, ms / 1000).catch(fail);
  }
  function replay() {
    audio.currentTime = Math.max(0, audio.currentTime - BACK_S);
    if (audio.paused) audio.play().catch(fail);
  }
  toggle.addEventListener("click", playPause);
  back.addEventListener("click", replay);

  // Caught before the editor sees the keys (capture), anywhere on the screen.
  const onKey = (e: KeyboardEvent) => {
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const key = e.code || `Key${e.key.toUpperCase()}`;
    if (key !== "KeyP" && key !== "KeyB") return;
    e.preventDefault();
    e.stopPropagation();
    if (key === "KeyP") playPause();
    else replay();
  };
  document.addEventListener("keydown", onKey, true);

  return {
    el,
    file: rec.file,
    /** The shown revision's timed segments (code-point spans), handed on to the editor. */
    setSegments(list: { start: number; end: number; ms: number }[]) {
      editor.setSegments(list, jump);
      order = list.map((_, i) => i).sort((a, b) => list[a].ms - list[b].ms);
      starts = order.map((i) => list[i].ms);
      heard = null;
      startedAt = undefined;
      show();
    },
    destroy() {
      document.removeEventListener("keydown", onKey, true);
      stopWatchdog();
      audio.pause();
      audio.removeAttribute("src");
      audio.load();
      el.remove();
    },
  };
}

export type LecturePlayer = ReturnType<typeof lecturePlayer>;
