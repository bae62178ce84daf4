/* One question, streamed: thinking into its panel, the answer rendered as it comes, then the
 * decision, the meter and the session totals; Stop aborts it and says so; a failure reads as
 * a sentence. */

import { explain, headers, readError, readEvents, requestBody } from "./api.js";
import { ui } from "./dom.js";
import { seconds } from "./format.js";
import { renderInto } from "./markdown.js";
import { rememberTurn } from "./chat.js";
import { countRequest } from "./session.js";
import { budget, state } from "./state.js";
import {
  badgeText, metric, newTurn, scrollLog, showChecks, showDecision, showMeter, thinkingPanel,
} from "./turn.js";

export async function ask(question) {
  const view = newTurn(question);
  scrollLog();
  const messages = state.conversation.concat([{ role: "user", content: question }]);
  const sentBudget = budget();
  const controller = new AbortController();
  state.controller = controller;
  ui.send.disabled = true;
  ui.stop.disabled = false;
  const run = { view: view, started: performance.now(), thinking: "", answer: "",
                decision: null, extension: null, usage: null, failed: null, painted: false };
  try {
    await stream(run, messages, controller);
  } catch (problem) {
    if (problem && problem.name === "AbortError") showStopped(run);
    else showFailure(run, problem);
    return;
  } finally {
    state.controller = null;
    ui.send.disabled = false;
    ui.stop.disabled = true;
    if (run.answer) renderInto(view.answer, run.answer);
    scrollLog();
  }
  showFinished(run, sentBudget);
  state.conversation = messages.concat([{ role: "assistant", content: run.answer }]);
}

/** POST the question and read its stream into `run`; throws what went wrong. */
async function stream(run, messages, controller) {
  let response;
  try {
    response = await fetch("/v1/chat/completions", {
      method: "POST", signal: controller.signal,
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(requestBody(messages)),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw { network: true, message: String(error.message || error) };
  }
  if (!response.ok) throw await readError(response);
  run.view.status.textContent = "";
  await readEvents(response.body, function (payload) { return onPayload(run, payload); });
  if (run.failed) throw run.failed;
}

/** One chunk of the stream; false stops reading (an error event). */
function onPayload(run, payload) {
  const view = run.view;
  if (payload.error) {
    run.failed = { message: "The stream failed: " + (payload.error.message || "error") };
    return false;
  }
  const ext = payload.thinkswitch;
  const choice = payload.choices && payload.choices[0];
  if (ext && ext.decision && !run.decision) {
    run.decision = ext.decision;
    showDecision(view, run.decision, " …");
  }
  if (choice && choice.delta) {
    const delta = choice.delta;
    const reasoning = delta.reasoning_content || delta.reasoning;
    if (reasoning) {
      run.thinking += reasoning;
      thinkingPanel(view);
      view.thinkingText.textContent = run.thinking;
      view.thinkingText.scrollTop = view.thinkingText.scrollHeight;
    }
    if (delta.content) {
      if (!run.answer && view.thinking) {
        view.thinking.open = false; // collapsed once the answer starts
        view.thinking.querySelector("summary").textContent = "Thinking";
      }
      run.answer += delta.content;
      if (!run.painted) {
        run.painted = true;
        requestAnimationFrame(function () { paint(run); });
      }
    }
  }
  if (choice && choice.finish_reason && ext) run.extension = ext;
  if (payload.usage) run.usage = payload.usage;
  return true;
}

function paint(run) {
  run.painted = false;
  renderInto(run.view.answer, run.answer);
  scrollLog();
}

function showStopped(run) {
  const view = run.view;
  view.status.textContent = "";
  view.badge.hidden = false;
  view.badge.classList.add("stopped");
  view.badge.textContent = (run.decision ? badgeText(run.decision) + " · " : "") + "stopped";
  view.meter.replaceChildren(metric("total", "stopped after",
    seconds((performance.now() - run.started) / 1000)));
  view.meter.hidden = false;
  renderInto(view.answer, run.answer);
}

function showFailure(run, problem) {
  const view = run.view;
  run.failed = problem && problem.message !== undefined ? problem
    : { message: String(problem) };
  view.status.textContent = "";
  view.error.textContent = explain(run.failed);
  view.error.hidden = false;
  if (run.decision) showDecision(view, run.decision, "");
}

/** The final decision, the meter, the trace id and finish, and the session totals. */
function showFinished(run, sentBudget) {
  const view = run.view;
  const extension = run.extension;
  if (extension) run.decision = extension.decision || run.decision;
  showDecision(view, run.decision, "");
  const usage = run.usage;
  const reasoning = usage && usage.completion_tokens_details
    ? usage.completion_tokens_details.reasoning_tokens || 0 : 0;
  const tokens = {
    thinking: reasoning,
    answer: usage ? Math.max(0, (usage.completion_tokens || 0) - reasoning) : 0,
  };
  const timings = extension ? extension.timings : { ttft_s: null, total_s: null };
  const cost = extension ? extension.cost : null;
  showMeter(view, tokens, timings, cost);
  if (view.thinking) {
    view.thinking.querySelector("summary").textContent = "Thinking · " + tokens.thinking +
      " tokens";
  }
  if (extension && extension.trace_id) {
    view.turn.dataset.traceId = extension.trace_id;
    showChecks(view, run.thinking.trim(), extension.steps || [], extension.trace_id, []);
    rememberTurn(extension.trace_id);
  }
  if (extension && extension.finish_reason) {
    view.turn.dataset.finish = extension.finish_reason;
  }
  countRequest(run.decision, tokens, cost, sentBudget);
}
