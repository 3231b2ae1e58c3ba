// The scheduling form's recurrence builder: shows the options that fit the chosen repetition,
// names the monthly choices after the chosen date, keeps the start's weekday among the weekly
// days, writes a one-line summary, and offers the browser's time zone. Without this script the
// form still works: every field is shown and the server checks everything.

const form = document.getElementById("schedule-form");

const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const ORDINALS = ["first", "second", "third", "fourth", "fifth"];
const UNITS = { daily: ["day", "days"], weekly: ["week", "weeks"], monthly: ["month", "months"] };

function value(name) {
  const field = form.elements.namedItem(name);
  if (field instanceof RadioNodeList) return field.value;
  return field ? field.value : "";
}

function startDate() {
  const text = value("date");
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const [year, month, day] = text.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day));
}

// Monday = 0, as in the server's rules.
function weekdayIndex(date) {
  return (date.getUTCDay() + 6) % 7;
}

function isLastWeek(date) {
  const days = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  return date.getUTCDate() + 7 > days;
}

function checkedWeekdays() {
  return [...form.querySelectorAll('input[name="weekdays"]:checked')].map((box) => box.value);
}

function updateVisibility() {
  const frequency = value("frequency");
  const ends = value("ends");
  for (const element of form.querySelectorAll("[data-show-for]")) {
    element.hidden = !element.dataset.showFor.split(" ").includes(frequency);
  }
  for (const element of form.querySelectorAll("[data-ends-for]")) {
    if (!element.hidden) element.hidden = element.dataset.endsFor !== ends;
  }
  const unit = UNITS[frequency];
  const interval = Number(value("interval")) || 1;
  const label = document.getElementById("interval-unit");
  if (label && unit) label.textContent = interval === 1 ? unit[0] : unit[1];
}

function updateMonthlyLabels() {
  const date = startDate();
  const select = form.elements.namedItem("monthly_by");
  if (!date || !(select instanceof HTMLSelectElement)) return;
  const name = DAY_NAMES[weekdayIndex(date)];
  const nth = ORDINALS[Math.floor((date.getUTCDate() - 1) / 7)];
  for (const option of select.options) {
    if (option.value === "month_day") option.textContent = `On day ${date.getUTCDate()}`;
    if (option.value === "weekday") option.textContent = `On the ${nth} ${name}`;
    if (option.value === "last_weekday") {
      option.textContent = `On the last ${name}`;
      option.disabled = !isLastWeek(date);
      if (option.disabled && option.selected) select.value = "month_day";
    }
  }
}

let previousStartDay = null;

function keepStartWeekday() {
  const date = startDate();
  if (!date) return;
  const code = WEEKDAYS[weekdayIndex(date)];
  if (code === previousStartDay) return;
  const boxes = form.querySelectorAll('input[name="weekdays"]');
  for (const box of boxes) {
    if (box.value === previousStartDay && checkedWeekdays().length > 1) box.checked = false;
    if (box.value === code) box.checked = true;
  }
  previousStartDay = code;
}

function summary() {
  const frequency = value("frequency");
  if (frequency === "none" || !UNITS[frequency]) return "";
  const interval = Number(value("interval")) || 1;
  const unit = UNITS[frequency];
  let text = interval === 1 ? `Every ${unit[0]}` : `Every ${interval} ${unit[1]}`;
  const date = startDate();
  if (frequency === "weekly") {
    const days = checkedWeekdays().map((code) => DAY_NAMES[WEEKDAYS.indexOf(code)].slice(0, 3));
    if (days.length) text += ` on ${days.join(", ")}`;
  }
  if (frequency === "monthly" && date) {
    const select = form.elements.namedItem("monthly_by");
    if (select instanceof HTMLSelectElement && select.selectedOptions[0]) {
      text += ` ${select.selectedOptions[0].textContent.toLowerCase()}`;
    }
  }
  const ends = value("ends");
  if (ends === "count" && value("count")) text += `, ${value("count")} times`;
  if (ends === "until" && value("until")) text += `, until ${value("until")}`;
  const time = value("start_time");
  if (time) text += `, at ${time} ${value("time_zone")}`;
  return text;
}

function update() {
  keepStartWeekday();
  updateMonthlyLabels();
  updateVisibility();
  const output = document.getElementById("recurrence-summary");
  if (output) output.textContent = summary();
}

function offerBrowserZone() {
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const select = form.elements.namedItem("time_zone");
  const hint = document.getElementById("tz-hint");
  if (!browserZone || !(select instanceof HTMLSelectElement) || !hint) return;
  if (select.value === browserZone || ![...select.options].some((option) => option.value === browserZone)) return;
  document.getElementById("tz-browser").textContent = browserZone;
  hint.hidden = false;
  document.getElementById("tz-use").addEventListener("click", () => {
    select.value = browserZone;
    hint.hidden = true;
    update();
  });
}

if (form) {
  const date = startDate();
  previousStartDay = date ? WEEKDAYS[weekdayIndex(date)] : null;
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  offerBrowserZone();
  update();
}
