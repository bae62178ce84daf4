/* The open conversation survives a reload: the page keeps the trace ids of its turns in
 * sessionStorage and, on load, rebuilds each turn from the trace store (question, thinking as
 * flaggable steps, answer, decision, meter, the flags and ratings given so far). */

import { getJson } from "./api.js";
import { renderInto } from "./markdown.js";
import { CHAT_STORE, state } from "./state.js";
import { loadFeedback } from "./feedback.js";
import { newTurn, showChecks, showDecision, showMeter, thinkingPanel } from "./turn.js";

function savedIds() {
  try {
    const ids = JSON.parse(sessionStorage.getItem(CHAT_STORE) || "[]");
    return Array.isArray(ids) ? ids.filter(function (id) { return typeof id === "string"; })
      : [];
  } catch (e) { return []; }
}

function saveIds(ids) {
  try { sessionStorage.setItem(CHAT_STORE, JSON.stringify(ids)); } catch (e) { /* off */ }
}

export function rememberTurn(traceId) {
  saveIds(savedIds().concat([traceId]));
}

export function forgetChat() {
  saveIds([]);
}

function lastQuestion(record) {
  for (let i = (record.messages || []).length - 1; i >= 0; i -= 1) {
    const message = record.messages[i];
    if (message.role === "user") {
      return typeof message.content === "string" ? message.content
        : JSON.stringify(message.content);
    }
  }
  return "";
}

async function restoreTurn(traceId) {
  const record = await getJson("/v1/traces/" + encodeURIComponent(traceId));
  const notes = await loadFeedback(traceId);
  const view = newTurn(lastQuestion(record));
  view.status.textContent = "";
  view.turn.dataset.traceId = record.id;
  if (record.finish_reason) view.turn.dataset.finish = record.finish_reason;
  const thinking = typeof record.thinking === "string" ? record.thinking : "";
  if (thinking) {
    thinkingPanel(view);
    view.thinkingText.textContent = thinking;
    view.thinking.open = false;
    view.thinking.querySelector("summary").textContent = "Thinking · " +
      (record.usage.thinking_tokens || 0) + " tokens";
  }
  const answer = typeof record.answer === "string" ? record.answer
    : (record.answer && record.answer.content) || "";
  renderInto(view.answer, answer);
  showDecision(view, record.decision, "");
  showMeter(view, { thinking: record.usage.thinking_tokens || 0,
                    answer: record.usage.answer_tokens || 0 }, record.timings, record.cost);
  showChecks(view, thinking, record.steps || [], record.id, notes);
  state.conversation = (record.messages || []).concat([{ role: "assistant", content: answer }]);
}

/** Rebuild the turns of the conversation this tab had open; drop the ones that are gone. */
export async function restoreChat() {
  const kept = [];
  for (const traceId of savedIds()) {
    try {
      await restoreTurn(traceId);
      kept.push(traceId);
    } catch (problem) { /* recording off, another key, or purged: not shown again */ }
  }
  saveIds(kept);
}
