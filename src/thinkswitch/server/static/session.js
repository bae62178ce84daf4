/* The session line: requests, tokens and cost so far, and what Auto saved (an estimate). */

import { ui } from "./dom.js";
import { money } from "./format.js";
import { SESSION_STORE } from "./state.js";

function emptySession() {
  return { requests: 0, thinking: 0, answer: 0, cost: 0, currency: "USD",
           onCount: 0, onThinking: 0, onThinkingCost: 0, autoOff: 0, autoOffBudget: 0 };
}

function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_STORE);
    return raw ? Object.assign(emptySession(), JSON.parse(raw)) : emptySession();
  } catch (e) { return emptySession(); }
}

const session = loadSession();

function saveSession() {
  try { sessionStorage.setItem(SESSION_STORE, JSON.stringify(session)); } catch (e) { /* */ }
}

/** Count one finished request into the session totals. */
export function countRequest(decision, usage, cost, requestedBudget) {
  session.requests += 1;
  session.thinking += usage.thinking;
  session.answer += usage.answer;
  session.cost += cost ? Number(cost.total) || 0 : 0;
  if (cost && cost.currency) session.currency = cost.currency;
  if (decision && decision.mode === "on") {
    session.onCount += 1;
    session.onThinking += usage.thinking;
    session.onThinkingCost += cost ? Number(cost.thinking) || 0 : 0;
  } else if (decision && decision.requested === "auto") {
    session.autoOff += 1;
    session.autoOffBudget += requestedBudget;
  }
  saveSession();
  showTotals();
}

/** What auto saved against always-on, estimated: each auto request that answered directly
 * would have thought for about what this session's thinking requests thought on average
 * (before any request has thought: its budget, an upper bound). */
function savedEstimate() {
  if (!session.autoOff) return null;
  const perRequest = session.onCount ? session.onThinking / session.onCount
    : session.autoOffBudget / session.autoOff;
  const tokens = Math.round(perRequest * session.autoOff);
  const perToken = session.onThinking ? session.onThinkingCost / session.onThinking : 0;
  return { tokens: tokens, cost: tokens * perToken, measured: session.onCount > 0 };
}

export function showTotals() {
  ui.totalRequests.textContent = session.requests + (session.requests === 1 ? " request"
    : " requests");
  ui.totalTokens.textContent = session.thinking + " thinking + " + session.answer +
    " answer tokens";
  ui.totalCost.textContent = money(session.cost, session.currency);
  const saved = savedEstimate();
  if (!saved) {
    ui.totalSaved.textContent = "auto saved: nothing yet";
    ui.totalSaved.title = "When Auto decides a request needs no thinking, this estimates " +
      "the thinking tokens (and cost) always-on would have spent on it.";
    return;
  }
  ui.totalSaved.textContent = "auto saved ≈ " + saved.tokens + " thinking tokens, " +
    money(saved.cost, session.currency) + " (estimate)";
  ui.totalSaved.title = "Estimate, not a measurement: " + session.autoOff +
    " Auto request(s) answered without thinking. Always-on would have thought on each for " +
    (saved.measured
      ? "about the mean thinking tokens of this session's " + session.onCount +
        " thinking request(s)"
      : "up to its budget (no request has thought yet this session, so this is an upper " +
        "bound)") +
    ". Cost uses this session's cost per thinking token.";
}
