/* The history panel: past requests from the trace store, page by page, and one trace opened
 * with its decision, messages, thinking, answer, tokens, timings, cost and hash. */

import { explain, getJson } from "./api.js";
import { el, ui } from "./dom.js";
import { money, seconds, when } from "./format.js";
import { loadFeedback, ratingBar, stepsList } from "./feedback.js";
import { renderInto } from "./markdown.js";
import { MODE_NAMES, state } from "./state.js";
import { badgeText } from "./turn.js";

function historyRow(item) {
  const row = el("li", "history-item");
  const open = el("button", "history-open");
  open.type = "button";
  open.dataset.traceId = item.id;
  const top = el("span", "history-top");
  top.append(el("span", "history-mode mode-" + (item.decision.mode || "none"),
                item.error ? "error" : (MODE_NAMES[item.decision.requested] || "?") + " → " +
                (item.decision.mode || "?")),
             el("time", "history-time", when(item.created_at)));
  open.append(top, el("span", "history-question", item.question || "(no question)"),
              el("span", "history-numbers", item.usage.thinking_tokens + " thinking + " +
                 item.usage.answer_tokens + " answer tokens · " +
                 money(item.cost.total, item.cost.currency)));
  if (item.error) open.appendChild(el("span", "history-error", item.error));
  open.addEventListener("click", function () { openTrace(item.id); });
  row.appendChild(open);
  return row;
}

async function loadHistory(more) {
  ui.historyMessage.textContent = "loading…";
  if (!more) {
    state.historyAfter = null;
    ui.historyList.replaceChildren();
  }
  const query = "?limit=20" +
    (state.historyAfter ? "&after=" + encodeURIComponent(state.historyAfter) : "");
  try {
    const page = await getJson("/v1/traces" + query);
    page.data.forEach(function (item) { ui.historyList.appendChild(historyRow(item)); });
    if (page.data.length) state.historyAfter = page.data[page.data.length - 1].id;
    ui.historyMore.hidden = !page.has_more;
    ui.historyMessage.textContent = ui.historyList.children.length ? ""
      : "No requests recorded yet.";
  } catch (problem) {
    ui.historyMessage.textContent = explain(problem);
    ui.historyMore.hidden = true;
  }
}

function field(list, name, value) {
  list.append(el("dt", null, name), el("dd", null, value));
}

function section(title, body) {
  const part = el("section", "trace-part");
  part.append(el("h4", null, title), body);
  return part;
}

function textOf(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function traceFacts(record) {
  const facts = el("dl", "trace-facts");
  field(facts, "id", record.id);
  field(facts, "time", when(record.created_at));
  if (record.decision && record.decision.mode) {
    field(facts, "decision", badgeText(record.decision));
    field(facts, "reason", record.decision.policy + ": " + record.decision.reason);
  }
  field(facts, "engine", record.engine + " · " + record.model);
  field(facts, "finish", record.finish_reason || "–");
  const usage = record.usage || {};
  field(facts, "tokens", (usage.prompt_tokens || 0) + " prompt, " +
        (usage.thinking_tokens || 0) + " thinking, " + (usage.answer_tokens || 0) + " answer");
  const timings = record.timings || {};
  field(facts, "timings", "first token " + seconds(timings.ttft_s) + ", first answer " +
        seconds(timings.first_answer_s) + ", total " + seconds(timings.total_s));
  field(facts, "cost", money(record.cost.total, record.cost.currency));
  if (record.caller) field(facts, "caller", record.caller);
  if (record.error) field(facts, "error", record.error);
  if (record.redacted) field(facts, "redacted", "inputs and traces are stored as hashes");
  field(facts, "hash", record.hash);
  return facts;
}

async function openTrace(id) {
  ui.trace.hidden = false;
  ui.trace.replaceChildren(el("p", "muted", "loading…"));
  let record;
  let notes;
  try {
    record = await getJson("/v1/traces/" + encodeURIComponent(id));
    notes = await loadFeedback(id);
  } catch (problem) {
    ui.trace.replaceChildren(el("p", "error", explain(problem)));
    return;
  }
  const head = el("div", "history-head");
  const close = el("button", null, "Close");
  close.type = "button";
  close.addEventListener("click", function () { ui.trace.hidden = true; });
  head.append(el("h3", null, "Trace"), close);
  const messages = el("ol", "trace-messages");
  (record.messages || []).forEach(function (message) {
    const item = el("li", "trace-message");
    item.append(el("span", "role", message.role), el("span", "content",
                                                     textOf(message.content)));
    messages.appendChild(item);
  });
  const parts = [head, traceFacts(record), section("Messages", messages)];
  const steps = record.steps || [];
  if (record.thinking && typeof record.thinking === "string" && steps.length) {
    parts.push(section("Thinking", stepsList(record.thinking, steps, record.id, notes)));
  } else if (record.thinking) {
    parts.push(section("Thinking", el("pre", "thinking-text trace-thinking",
                                      textOf(record.thinking))));
  }
  const answer = el("div", "answer trace-answer");
  if (typeof record.answer === "string") renderInto(answer, record.answer);
  else answer.textContent = textOf(record.answer);
  parts.push(section("Answer", answer));
  if (!record.redacted) parts.push(ratingBar(record.id, notes));
  ui.trace.replaceChildren.apply(ui.trace, parts);
}

export function bindHistory() {
  ui.historyToggle.addEventListener("click", function () {
    const show = ui.history.hidden;
    ui.history.hidden = !show;
    ui.historyToggle.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) loadHistory(false);
  });
  ui.historyRefresh.addEventListener("click", function () { loadHistory(false); });
  ui.historyMore.addEventListener("click", function () { loadHistory(true); });
}
