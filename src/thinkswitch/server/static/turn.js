/* One question and its reply in the log: the thinking panel, the answer, the decision's
 * badge and the meter of tokens, times and cost. */

import { el, ui } from "./dom.js";
import { ratingBar, stepsList } from "./feedback.js";
import { money, seconds } from "./format.js";
import { MODE_NAMES } from "./state.js";

function shortReason(decision) {
  if (decision.policy === "user") {
    return decision.mode === "on" ? "switched on by you" : "switched off by you";
  }
  return String(decision.reason || "")
    .replace(/^(think(,\s*budget\s*\d+)?|answer directly)\s*:\s*/i, "")
    .replace(/\s*\(score[^)]*\)/, "")
    .replace(/^score [\d.]+ vs threshold [\d.]+;\s*/, "")
    .trim();
}

/** e.g. "Auto → thinking, budget 1024: multi-step wording, score 0.81" */
export function badgeText(decision) {
  const requested = MODE_NAMES[decision.requested] || decision.requested;
  const what = decision.mode === "on" ? "thinking, budget " + decision.budget : "no thinking";
  const why = shortReason(decision);
  let text = requested + " → " + what + (why ? ": " + why : "");
  if (decision.score !== null && decision.score !== undefined) {
    text += ", score " + Number(decision.score).toFixed(2);
  }
  return text;
}

export function newTurn(question) {
  const turn = el("li", "turn");
  turn.appendChild(el("div", "user", question));
  const reply = el("div", "assistant");
  const status = el("div", "status", "waiting for the server…");
  const answer = el("div", "answer");
  const badge = el("div", "badge");
  badge.hidden = true;
  const meter = el("div", "meter");
  meter.hidden = true;
  const error = el("div", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  reply.append(status, answer, badge, meter, error);
  turn.appendChild(reply);
  ui.log.appendChild(turn);
  return { turn: turn, reply: reply, status: status, answer: answer, badge: badge,
           meter: meter, error: error, thinking: null, thinkingText: null };
}

export function thinkingPanel(view) {
  if (view.thinking) return view.thinking;
  const details = el("details", "thinking");
  details.open = true;
  const summary = el("summary", null, "Thinking…");
  const text = el("pre", "thinking-text");
  details.append(summary, text);
  view.reply.insertBefore(details, view.answer);
  view.thinking = details;
  view.thinkingText = text;
  return details;
}

export function scrollLog() {
  ui.log.scrollTop = ui.log.scrollHeight;
}

export function metric(name, label, value) {
  const span = el("span", "metric");
  span.dataset.metric = name;
  span.appendChild(el("span", "label", label));
  span.appendChild(el("span", "value", value));
  return span;
}

export function showMeter(view, usage, timings, cost) {
  view.meter.replaceChildren(
    metric("thinking", "thinking", usage.thinking + " tok"),
    metric("answer", "answer", usage.answer + " tok"),
    metric("ttft", "first token", seconds(timings.ttft_s)),
    metric("total", "total", seconds(timings.total_s)),
    metric("cost", "cost", cost ? money(cost.total, cost.currency) : "–"));
  view.meter.hidden = false;
}

/** The decision's badge (its full reason as the tooltip); `suffix` while still streaming. */
export function showDecision(view, decision, suffix) {
  if (!decision) return;
  view.badge.textContent = badgeText(decision) + (suffix || "");
  view.badge.title = "policy " + decision.policy + ": " + decision.reason;
  view.badge.dataset.mode = decision.mode;
  view.badge.hidden = false;
}

/** Once the trace is recorded: the thinking as numbered steps a person can flag (the raw text
 * stays in the page, hidden), and the answer's Right / Wrong rating. */
export function showChecks(view, thinking, steps, traceId, notes) {
  if (!traceId) return;
  if (view.thinking && steps.length) {
    view.thinkingText.hidden = true;
    view.thinking.appendChild(stepsList(thinking, steps, traceId, notes));
  }
  view.reply.insertBefore(ratingBar(traceId, notes), view.error);
}
