/* The thinkswitch chat page: a three-way thinking switch, live thinking, the answer, and what
 * each request decided and cost. It talks to /v1/chat/completions like any OpenAI client.
 * ES modules, served as they are (no build step): this one starts the page.
 *
 * Model output is only ever put on the page with textContent (see markdown.js); nothing from
 * the server is parsed as HTML.
 */

import { explain, getJson, saveApiKey } from "./api.js";
import { ask } from "./ask.js";
import { forgetChat, restoreChat } from "./chat.js";
import { bindControls, restoreControls } from "./controls.js";
import { showBanner, showKeyPanel, ui } from "./dom.js";
import { bindHistory } from "./history.js";
import { showTotals } from "./session.js";
import { state } from "./state.js";

function bindConversation() {
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
    forgetChat();
    ui.log.replaceChildren();
    ui.question.focus();
  });
  ui.keyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    saveApiKey(ui.keyInput.value.trim());
    ui.keyInput.value = "";
    connect();
  });
}

/** Learn the engine and model, and whether a key is needed, before the first question. */
async function connect() {
  try {
    const health = await getJson("/health");
    ui.engine.textContent = health.engine + " · " + health.model;
    const models = await getJson("/v1/models");
    state.model = models.data && models.data.length ? models.data[0].id : "";
    ui.keyPanel.hidden = true;
    showBanner("");
    if (!ui.log.children.length) await restoreChat();
  } catch (problem) {
    if (problem.status === 401) {
      showKeyPanel("This server needs an API key: " + problem.message + ".");
    } else {
      showBanner(explain(problem));
      if (problem.network) ui.engine.textContent = "not connected";
    }
  }
}

bindControls();
bindConversation();
bindHistory();
restoreControls();
showTotals();
connect();
ui.question.focus();
