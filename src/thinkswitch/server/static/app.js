/* The thinkswitch chat page: a three-way thinking switch, live thinking, the answer, and what
 * each request decided and cost. It talks to /v1/chat/completions like any OpenAI client.
 *
 * Model output is only ever put on the page with textContent (see markdown.js); nothing from
 * the server is parsed as HTML.
 */
"use strict";

(function () {
  const BUDGETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
  const MODES = ["off", "auto", "on"];
  const MODE_NAMES = { off: "Off", auto: "Auto", on: "On" };
  const KEY_STORE = "thinkswitch.apiKey";
  const SESSION_STORE = "thinkswitch.session";
  const SETTINGS_STORE = "thinkswitch.controls";

  const $ = function (id) { return document.getElementById(id); };
  const ui = {
    engine: $("engine"), switchGroup: $("switch"), budget: $("budget"),
    budgetValue: $("budget-value"), budgetControl: $("budget-control"),
    log: $("log"), banner: $("banner"), form: $("ask"), question: $("question"),
    send: $("send"), stop: $("stop"), newChat: $("new-chat"),
    keyPanel: $("key-panel"), keyMessage: $("key-message"), keyForm: $("key-form"),
    keyInput: $("key-input"),
    totalRequests: $("total-requests"), totalTokens: $("total-tokens"),
    totalCost: $("total-cost"), totalSaved: $("total-saved"),
    history: $("history"), historyToggle: $("history-toggle"),
    historyRefresh: $("history-refresh"), historyList: $("history-list"),
    historyMessage: $("history-message"), historyMore: $("history-more"), trace: $("trace"),
  };

  const state = {
    mode: "auto",
    budgetIndex: 3,
    model: "",
    conversation: [],
    controller: null,
    historyAfter: null,
  };

  // ---- small helpers -----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function budget() { return BUDGETS[state.budgetIndex]; }

  function apiKey() {
    try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function headers(extra) {
    const out = Object.assign({}, extra || {});
    const key = apiKey();
    if (key) out.Authorization = "Bearer " + key;
    return out;
  }

  function money(amount, currency) {
    const value = Number(amount) || 0;
    const sign = (currency || "USD") === "USD" ? "$" : (currency + " ");
    if (value === 0) return sign + "0";
    if (value < 0.01) return sign + value.toPrecision(2);
    return sign + value.toFixed(4);
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(2) + " s";
  }

  function when(epochSeconds) {
    return new Date(epochSeconds * 1000).toLocaleString();
  }

  /** A failed response as {status, message, type, param, retryAfter}. */
  async function readError(response) {
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
  function explain(problem) {
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

  function showBanner(text) {
    ui.banner.textContent = text;
    ui.banner.hidden = !text;
  }

  function showKeyPanel(message) {
    ui.keyMessage.textContent = message;
    ui.keyPanel.hidden = false;
  }

  // ---- the switch and the budget -------------------------------------------------------------

  function saveControls() {
    try {
      localStorage.setItem(SETTINGS_STORE, JSON.stringify(
        { mode: state.mode, budgetIndex: state.budgetIndex }));
    } catch (e) { /* storage off: the controls just are not remembered */ }
  }

  function setMode(mode, focus) {
    state.mode = mode;
    ui.switchGroup.dataset.mode = mode;
    ui.switchGroup.querySelectorAll("[role=radio]").forEach(function (radio) {
      const on = radio.dataset.mode === mode;
      radio.setAttribute("aria-checked", on ? "true" : "false");
      radio.tabIndex = on ? 0 : -1;
      if (on && focus) radio.focus();
    });
    ui.budgetControl.hidden = mode === "off";
    saveControls();
  }

  function setBudgetIndex(index) {
    state.budgetIndex = Math.max(0, Math.min(BUDGETS.length - 1, index));
    ui.budget.value = String(state.budgetIndex);
    ui.budgetValue.textContent = String(budget());
    ui.budget.setAttribute("aria-valuetext", budget() + " thinking tokens");
    saveControls();
  }

  ui.switchGroup.addEventListener("click", function (event) {
    const radio = event.target.closest("[role=radio]");
    if (radio) setMode(radio.dataset.mode, true);
  });

  ui.switchGroup.addEventListener("keydown", function (event) {
    const at = MODES.indexOf(state.mode);
    let next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (at + 1) % MODES.length;
    if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      next = (at + MODES.length - 1) % MODES.length;
    }
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = MODES.length - 1;
    if (event.key === " " || event.key === "Enter") {
      const radio = event.target.closest("[role=radio]");
      if (radio) next = MODES.indexOf(radio.dataset.mode);
    }
    if (next === null) return;
    event.preventDefault();
    setMode(MODES[next], true);
  });

  ui.budget.addEventListener("input", function () {
    setBudgetIndex(parseInt(ui.budget.value, 10));
  });

  // ---- session totals --------------------------------------------------------------------------

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

  let session = loadSession();

  function saveSession() {
    try { sessionStorage.setItem(SESSION_STORE, JSON.stringify(session)); } catch (e) { /* */ }
  }

  /** Count one finished request into the session totals. */
  function countRequest(decision, usage, cost, requestedBudget) {
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

  function showTotals() {
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

  // ---- one request -----------------------------------------------------------------------------

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
  function badgeText(decision) {
    const requested = MODE_NAMES[decision.requested] || decision.requested;
    const what = decision.mode === "on" ? "thinking, budget " + decision.budget : "no thinking";
    const why = shortReason(decision);
    let text = requested + " → " + what + (why ? ": " + why : "");
    if (decision.score !== null && decision.score !== undefined) {
      text += ", score " + Number(decision.score).toFixed(2);
    }
    return text;
  }

  function newTurn(question) {
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

  function thinkingPanel(view) {
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

  function scrollLog() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function metric(name, label, value) {
    const span = el("span", "metric");
    span.dataset.metric = name;
    span.appendChild(el("span", "label", label));
    span.appendChild(el("span", "value", value));
    return span;
  }

  function showMeter(view, usage, timings, cost) {
    view.meter.replaceChildren(
      metric("thinking", "thinking", usage.thinking + " tok"),
      metric("answer", "answer", usage.answer + " tok"),
      metric("ttft", "first token", seconds(timings.ttft_s)),
      metric("total", "total", seconds(timings.total_s)),
      metric("cost", "cost", cost ? money(cost.total, cost.currency) : "–"));
    view.meter.hidden = false;
  }

  function requestBody(messages) {
    const thinking = state.mode === "off" ? { type: "disabled" }
      : { type: state.mode === "on" ? "enabled" : "auto", budget_tokens: budget() };
    return { model: state.model, messages: messages, stream: true,
             stream_options: { include_usage: true }, thinking: thinking };
  }

  /** Server-sent events from a fetch body: calls onData(parsed JSON or "[DONE]"). */
  async function readEvents(body, onData) {
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

  async function ask(question) {
    const view = newTurn(question);
    scrollLog();
    const messages = state.conversation.concat([{ role: "user", content: question }]);
    const sentBudget = budget();
    const controller = new AbortController();
    state.controller = controller;
    ui.send.disabled = true;
    ui.stop.disabled = false;
    const started = performance.now();
    let thinking = "";
    let answer = "";
    let decision = null;
    let extension = null;
    let usage = null;
    let failed = null;
    let painted = false;

    const paint = function () {
      painted = false;
      ThinkMarkdown.renderInto(view.answer, answer);
      scrollLog();
    };
    const showDecision = function (suffix) {
      if (!decision) return;
      view.badge.textContent = badgeText(decision) + (suffix || "");
      view.badge.title = "policy " + decision.policy + ": " + decision.reason;
      view.badge.dataset.mode = decision.mode;
      view.badge.hidden = false;
    };

    try {
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
      view.status.textContent = "";
      await readEvents(response.body, function (payload) {
        if (payload.error) {
          failed = { message: "The stream failed: " + (payload.error.message || "error") };
          return false;
        }
        const ext = payload.thinkswitch;
        const choice = payload.choices && payload.choices[0];
        if (ext && ext.decision && !decision) {
          decision = ext.decision;
          showDecision(" …");
        }
        if (choice && choice.delta) {
          const delta = choice.delta;
          const reasoning = delta.reasoning_content || delta.reasoning;
          if (reasoning) {
            thinking += reasoning;
            thinkingPanel(view);
            view.thinkingText.textContent = thinking;
            view.thinkingText.scrollTop = view.thinkingText.scrollHeight;
          }
          if (delta.content) {
            if (!answer && view.thinking) {
              view.thinking.open = false; // collapsed once the answer starts
              view.thinking.querySelector("summary").textContent = "Thinking";
            }
            answer += delta.content;
            if (!painted) {
              painted = true;
              requestAnimationFrame(paint);
            }
          }
        }
        if (choice && choice.finish_reason && ext) extension = ext;
        if (payload.usage) usage = payload.usage;
        return true;
      });
      if (failed) throw failed;
    } catch (problem) {
      if (problem && problem.name === "AbortError") {
        view.status.textContent = "";
        view.badge.hidden = false;
        view.badge.classList.add("stopped");
        view.badge.textContent = (decision ? badgeText(decision) + " · " : "") + "stopped";
        view.meter.replaceChildren(metric("total", "stopped after",
          seconds((performance.now() - started) / 1000)));
        view.meter.hidden = false;
        ThinkMarkdown.renderInto(view.answer, answer);
        return;
      }
      failed = problem && problem.message !== undefined ? problem
        : { message: String(problem) };
      view.status.textContent = "";
      view.error.textContent = explain(failed);
      view.error.hidden = false;
      if (decision) showDecision("");
      return;
    } finally {
      state.controller = null;
      ui.send.disabled = false;
      ui.stop.disabled = true;
      if (answer) ThinkMarkdown.renderInto(view.answer, answer);
      scrollLog();
    }

    if (extension) decision = extension.decision || decision;
    showDecision("");
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
    if (extension && extension.trace_id) view.turn.dataset.traceId = extension.trace_id;
    if (extension && extension.finish_reason) {
      view.turn.dataset.finish = extension.finish_reason;
    }
    countRequest(decision, tokens, cost, sentBudget);
    state.conversation = messages.concat([{ role: "assistant", content: answer }]);
  }

  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    const question = ui.question.value.trim();
    if (!question || state.controller) return;
    ui.question.value = "";
    ask(question);
  });

  ui.question.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });

  ui.stop.addEventListener("click", function () {
    if (state.controller) state.controller.abort();
  });

  ui.newChat.addEventListener("click", function () {
    if (state.controller) state.controller.abort();
    state.conversation = [];
    ui.log.replaceChildren();
    ui.question.focus();
  });

  // ---- history ---------------------------------------------------------------------------------

  async function getJson(path) {
    let response;
    try {
      response = await fetch(path, { headers: headers() });
    } catch (error) {
      throw { network: true, message: String(error.message || error) };
    }
    if (!response.ok) throw await readError(response);
    return response.json();
  }

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

  async function openTrace(id) {
    ui.trace.hidden = false;
    ui.trace.replaceChildren(el("p", "muted", "loading…"));
    let record;
    try {
      record = await getJson("/v1/traces/" + encodeURIComponent(id));
    } catch (problem) {
      ui.trace.replaceChildren(el("p", "error", explain(problem)));
      return;
    }
    const head = el("div", "history-head");
    const close = el("button", null, "Close");
    close.type = "button";
    close.addEventListener("click", function () { ui.trace.hidden = true; });
    head.append(el("h3", null, "Trace"), close);
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

    const messages = el("ol", "trace-messages");
    (record.messages || []).forEach(function (message) {
      const item = el("li", "trace-message");
      item.append(el("span", "role", message.role), el("span", "content",
                                                       textOf(message.content)));
      messages.appendChild(item);
    });
    const parts = [head, facts, section("Messages", messages)];
    if (record.thinking) parts.push(section("Thinking", el("pre", "thinking-text trace-thinking",
                                                          textOf(record.thinking))));
    const answer = el("div", "answer trace-answer");
    if (typeof record.answer === "string") ThinkMarkdown.renderInto(answer, record.answer);
    else answer.textContent = textOf(record.answer);
    parts.push(section("Answer", answer));
    ui.trace.replaceChildren.apply(ui.trace, parts);
  }

  ui.historyToggle.addEventListener("click", function () {
    const show = ui.history.hidden;
    ui.history.hidden = !show;
    ui.historyToggle.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) loadHistory(false);
  });
  ui.historyRefresh.addEventListener("click", function () { loadHistory(false); });
  ui.historyMore.addEventListener("click", function () { loadHistory(true); });

  // ---- the API key and start-up ----------------------------------------------------------------

  ui.keyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    try { localStorage.setItem(KEY_STORE, ui.keyInput.value.trim()); } catch (e) { /* */ }
    ui.keyInput.value = "";
    connect();
  });

  /** Learn the engine and model, and whether a key is needed, before the first question. */
  async function connect() {
    try {
      const health = await getJson("/health");
      ui.engine.textContent = health.engine + " · " + health.model;
      const models = await getJson("/v1/models");
      state.model = models.data && models.data.length ? models.data[0].id : "";
      ui.keyPanel.hidden = true;
      showBanner("");
    } catch (problem) {
      if (problem.status === 401) {
        showKeyPanel("This server needs an API key: " + problem.message + ".");
      } else {
        showBanner(explain(problem));
        if (problem.network) ui.engine.textContent = "not connected";
      }
    }
  }

  (function start() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(SETTINGS_STORE) || "{}") || {}; } catch (e) {
      saved = {};
    }
    setMode(MODES.indexOf(saved.mode) >= 0 ? saved.mode : "auto", false);
    setBudgetIndex(Number.isInteger(saved.budgetIndex) ? saved.budgetIndex : 3);
    showTotals();
    connect();
    ui.question.focus();
  })();
})();
