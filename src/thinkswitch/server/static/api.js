/* Talking to the server: the API key, errors as sentences, JSON, and server-sent events. */

import { showKeyPanel } from "./dom.js";
import { KEY_STORE, budget, state } from "./state.js";

function apiKey() {
  try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

export function saveApiKey(key) {
  try { localStorage.setItem(KEY_STORE, key); } catch (e) { /* storage off: not remembered */ }
}

export function headers(extra) {
  const out = Object.assign({}, extra || {});
  const key = apiKey();
  if (key) out.Authorization = "Bearer " + key;
  return out;
}

/** A failed response as {status, message, type, param, retryAfter}. */
export async function readError(response) {
  let message = response.statusText || "request failed";
  let type = "";
  let param = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      type = body.error.type || "";
      param = body.error.param || null;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch (e) { /* not JSON: keep the status text */ }
  return { status: response.status, message: message, type: type, param: param,
           retryAfter: response.headers.get("Retry-After") };
}

/** What a person should read for a failed request. */
export function explain(problem) {
  if (problem.network) {
    return "Cannot reach the thinkswitch server at " + location.origin +
      " (is `thinkswitch serve` running?): " + problem.message;
  }
  if (problem.status === 401) {
    showKeyPanel("This server needs an API key: " + problem.message + ".");
    return "Not authorised: " + problem.message + ". Paste the server's API key above.";
  }
  if (problem.status === 429) {
    const wait = problem.retryAfter ? " Try again in " + problem.retryAfter + " s." : "";
    return "The server is busy: " + problem.message + "." + wait;
  }
  if (problem.status === 400) {
    const budgetProblem = /budget/i.test(problem.message) || /budget/.test(problem.param || "");
    return (budgetProblem ? "Bad thinking budget: " : "The request was refused: ") +
      problem.message;
  }
  if (problem.status === 404) return problem.message;
  if (problem.status) return "Server error " + problem.status + ": " + problem.message;
  return problem.message;
}

export async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: headers() });
  } catch (error) {
    throw { network: true, message: String(error.message || error) };
  }
  if (!response.ok) throw await readError(response);
  return response.json();
}

/** The chat-completions body for `messages` under the switch's position and budget. */
export function requestBody(messages) {
  const thinking = state.mode === "off" ? { type: "disabled" }
    : { type: state.mode === "on" ? "enabled" : "auto", budget_tokens: budget() };
  return { model: state.model, messages: messages, stream: true,
           stream_options: { include_usage: true }, thinking: thinking };
}

/** Server-sent events from a fetch body: calls onData(parsed JSON or "[DONE]"). */
export async function readEvents(body, onData) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split("\n").filter(function (line) {
        return line.startsWith("data:");
      }).map(function (line) { return line.slice(5).trimStart(); }).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return true;
      if (onData(JSON.parse(data)) === false) return false;
    }
  }
  return false;
}
