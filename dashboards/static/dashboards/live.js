// Live refresh guard: a polled section is not replaced while someone is typing in it
// (a half-written approval reason must survive the next poll).
window.observatoryIdle = function (section) {
  var active = document.activeElement;
  if (active && section.contains(active) && active.matches("input, textarea, select")) return false;
  return !Array.prototype.some.call(section.querySelectorAll("input:not([type=hidden]), textarea"), function (el) {
    return el.type === "checkbox" ? el.checked !== el.defaultChecked : el.value !== el.defaultValue;
  });
};
