/* What the page remembers while it is open: the switch's position, the budget, the model,
 * the conversation, the request in flight and the history cursor; and the names it stores
 * things under in the browser. */

export const BUDGETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
export const MODES = ["off", "auto", "on"];
export const MODE_NAMES = { off: "Off", auto: "Auto", on: "On" };
export const KEY_STORE = "thinkswitch.apiKey";
export const SESSION_STORE = "thinkswitch.session";
export const CHAT_STORE = "thinkswitch.chat";
export const SETTINGS_STORE = "thinkswitch.controls";

export const state = {
  mode: "auto",
  budgetIndex: 3,
  model: "",
  conversation: [],
  controller: null,
  historyAfter: null,
};

export function budget() { return BUDGETS[state.budgetIndex]; }
