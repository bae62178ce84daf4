/* Numbers as people read them: money, seconds, a time. */

export function money(amount, currency) {
  const value = Number(amount) || 0;
  const sign = (currency || "USD") === "USD" ? "$" : (currency + " ");
  if (value === 0) return sign + "0";
  if (value < 0.01) return sign + value.toPrecision(2);
  return sign + value.toFixed(4);
}

export function seconds(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(2) + " s";
}

export function when(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString();
}
