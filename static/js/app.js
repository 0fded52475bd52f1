// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" checkbox in review tables.
  document.querySelectorAll("[data-check-all]").forEach((master) => {
    master.addEventListener("change", () => {
      document.querySelectorAll(master.dataset.checkAll).forEach((box) => { box.checked = master.checked; });
    });
  });
  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Demand form: the bounty only makes sense for open challenges.
  const challenge = document.getElementById("challenge");
  const bounty = document.getElementById("bounty_cny");
  if (challenge && bounty) {
    const sync = () => { bounty.closest(".mb-3").classList.toggle("d-none", !challenge.checked); };
    challenge.addEventListener("change", sync);
    sync();
  }
});
