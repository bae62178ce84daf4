/* The switch (a radio group: Off · Auto · On, arrow keys move it) and the budget slider,
 * remembered across visits. */

import { ui } from "./dom.js";
import { BUDGETS, MODES, SETTINGS_STORE, budget, state } from "./state.js";

function saveControls() {
  try {
    localStorage.setItem(SETTINGS_STORE, JSON.stringify(
      { mode: state.mode, budgetIndex: state.budgetIndex }));
  } catch (e) { /* storage off: the controls just are not remembered */ }
}

export function setMode(mode, focus) {
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

export function setBudgetIndex(index) {
  state.budgetIndex = Math.max(0, Math.min(BUDGETS.length - 1, index));
  ui.budget.value = String(state.budgetIndex);
  ui.budgetValue.textContent = String(budget());
  ui.budget.setAttribute("aria-valuetext", budget() + " thinking tokens");
  saveControls();
}

/** The arrow, Home/End, Space/Enter keys of a radio group: the mode they move to, or null. */
function nextMode(event) {
  const at = MODES.indexOf(state.mode);
  if (event.key === "ArrowRight" || event.key === "ArrowDown") return (at + 1) % MODES.length;
  if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    return (at + MODES.length - 1) % MODES.length;
  }
  if (event.key === "Home") return 0;
  if (event.key === "End") return MODES.length - 1;
  if (event.key === " " || event.key === "Enter") {
    const radio = event.target.closest("[role=radio]");
    if (radio) return MODES.indexOf(radio.dataset.mode);
  }
  return null;
}

export function bindControls() {
  ui.switchGroup.addEventListener("click", function (event) {
    const radio = event.target.closest("[role=radio]");
    if (radio) setMode(radio.dataset.mode, true);
  });
  ui.switchGroup.addEventListener("keydown", function (event) {
    const next = nextMode(event);
    if (next === null) return;
    event.preventDefault();
    setMode(MODES[next], true);
  });
  ui.budget.addEventListener("input", function () {
    setBudgetIndex(parseInt(ui.budget.value, 10));
  });
}

/** The position and budget of the last visit (Auto and 128 the first time). */
export function restoreControls() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(SETTINGS_STORE) || "{}") || {}; } catch (e) {
    saved = {};
  }
  setMode(MODES.indexOf(saved.mode) >= 0 ? saved.mode : "auto", false);
  setBudgetIndex(Number.isInteger(saved.budgetIndex) ? saved.budgetIndex : 3);
}
