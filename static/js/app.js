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
  // Type-ahead: titles from the search index as the user types (a datalist keeps it accessible).
  document.querySelectorAll("input[data-suggest-url]").forEach((input) => {
    const list = document.getElementById(input.getAttribute("list"));
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const prefix = input.value.trim();
      if (!list || prefix.length < 2) return;
      timer = setTimeout(async () => {
        const url = new URL(input.dataset.suggestUrl, window.location.origin);
        url.searchParams.set("q", prefix);
        try {
          const response = await fetch(url, { headers: { Accept: "application/json" } });
          const { suggestions } = await response.json();
          list.replaceChildren(...suggestions.map((title) => Object.assign(document.createElement("option"), { value: title })));
        } catch (error) { /* suggestions are a convenience; typing still works */ }
      }, 200);
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
