/* Reasoning people can check: the thinking as numbered steps a person can flag (wrong,
 * unclear, unnecessary, good, with a comment), and the answer rated right or wrong (with a
 * correction). Both are sent to /v1/traces/{id}/feedback, where they are appended to the
 * trace's chain; the same widgets serve a live turn and a trace opened from History. */

import { explain, getJson, headers, readError } from "./api.js";
import { el } from "./dom.js";

export const STEP_VERDICTS = ["wrong", "unclear", "unnecessary", "good"];

function feedbackPath(traceId) {
  return "/v1/traces/" + encodeURIComponent(traceId) + "/feedback";
}

export async function loadFeedback(traceId) {
  const page = await getJson(feedbackPath(traceId));
  return page.data || [];
}

async function sendFeedback(traceId, body) {
  const response = await fetch(feedbackPath(traceId), {
    method: "POST", headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await readError(response);
  return response.json();
}

function chip(note) {
  const text = note.verdict + (note.comment ? ": " + note.comment : "");
  const flag = el("span", "flag flag-" + note.verdict, text);
  flag.title = "flagged " + note.verdict;
  return flag;
}

/** A small form: `fields` then Save; `collect()` gives the body; `done(note)` after saving. */
function feedbackForm(traceId, className, fields, collect, done) {
  const form = el("form", className);
  const save = el("button", "feedback-save", "Save");
  save.type = "submit";
  const problem = el("span", "feedback-error");
  problem.setAttribute("role", "alert");
  form.append(...fields, save, problem);
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    save.disabled = true;
    problem.textContent = "";
    try {
      done(await sendFeedback(traceId, collect()));
    } catch (failure) {
      problem.textContent = explain(failure);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function stepItem(thinking, step, traceId, notes) {
  const item = el("li", "step step-" + step.kind);
  item.dataset.step = String(step.index);
  const flags = el("span", "step-flags");
  notes.forEach(function (note) { flags.appendChild(chip(note)); });
  const toggle = el("button", "flag-step", "Flag");
  toggle.type = "button";
  toggle.title = "Flag step " + step.index;
  const verdict = el("select", "flag-verdict");
  verdict.setAttribute("aria-label", "verdict on step " + step.index);
  STEP_VERDICTS.forEach(function (name) { verdict.appendChild(el("option", null, name)); });
  const comment = el("input", "flag-comment");
  comment.placeholder = "comment (optional)";
  comment.maxLength = 2000;
  const form = feedbackForm(traceId, "flag-form", [verdict, comment], function () {
    const body = { step: step.index, verdict: verdict.value };
    if (comment.value.trim()) body.comment = comment.value.trim();
    return body;
  }, function (note) {
    flags.appendChild(chip(note));
    form.hidden = true;
    comment.value = "";
  });
  form.hidden = true;
  toggle.addEventListener("click", function () {
    form.hidden = !form.hidden;
    if (!form.hidden) verdict.focus();
  });
  item.append(el("span", "step-index", step.index + "."),
              el("span", "step-text", thinking.slice(step.start, step.end)),
              flags, toggle, form);
  return item;
}

/** The thinking as an ordered list of steps, each with its flags and a Flag button. */
export function stepsList(thinking, steps, traceId, notes) {
  const list = el("ol", "steps");
  steps.forEach(function (step) {
    const mine = notes.filter(function (note) { return note.step === step.index; });
    list.appendChild(stepItem(thinking, step, traceId, mine));
  });
  return list;
}

function ratingText(note) {
  return "rated " + note.verdict + (note.correction ? " · correction: " + note.correction : "") +
    (note.comment ? " · " + note.comment : "");
}

/** Right / Wrong for the answer (Wrong opens a correction field), and the ratings so far. */
export function ratingBar(traceId, notes) {
  const bar = el("div", "rating");
  const given = el("span", "rating-given");
  const answerNotes = notes.filter(function (note) { return note.step === undefined; });
  if (answerNotes.length) given.textContent = ratingText(answerNotes[answerNotes.length - 1]);
  const correction = el("textarea", "rate-correction");
  correction.placeholder = "what the answer should have been (optional)";
  correction.maxLength = 8000;
  correction.rows = 2;
  let verdict = "right";
  const form = feedbackForm(traceId, "rate-form", [correction], function () {
    const body = { verdict: verdict };
    if (verdict === "wrong" && correction.value.trim()) body.correction = correction.value.trim();
    return body;
  }, function (note) {
    given.textContent = ratingText(note);
    form.hidden = true;
  });
  form.hidden = true;
  const right = el("button", "rate-right", "Right");
  const wrong = el("button", "rate-wrong", "Wrong");
  [right, wrong].forEach(function (button) {
    button.type = "button";
    button.addEventListener("click", function () {
      verdict = button === right ? "right" : "wrong";
      correction.hidden = verdict === "right";
      form.hidden = false;
      right.setAttribute("aria-pressed", String(verdict === "right"));
      wrong.setAttribute("aria-pressed", String(verdict === "wrong"));
    });
  });
  bar.append(el("span", "rating-label", "Answer:"), right, wrong, form, given);
  return bar;
}
