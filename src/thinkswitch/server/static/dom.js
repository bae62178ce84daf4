/* The page's elements, a node builder (text only: nothing is parsed as HTML), and the two
 * places a message can appear outside a turn: the banner and the API-key panel. */

export const $ = function (id) { return document.getElementById(id); };

export const ui = {
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

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function showBanner(text) {
  ui.banner.textContent = text;
  ui.banner.hidden = !text;
}

export function showKeyPanel(message) {
  ui.keyMessage.textContent = message;
  ui.keyPanel.hidden = false;
}
