// 1234567 -> "1,234,567" without Intl: the first toLocaleString on the extension host loads ICU data and
// cost 25-45 ms of a single task there (measured with the host probe).
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
