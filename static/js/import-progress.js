// Import progress page: poll the run's JSON until it is finished, then reload to show the report.
// Without JavaScript the page offers a "刷新" link instead.
document.addEventListener("DOMContentLoaded", () => {
  const card = document.querySelector("[data-import-progress]");
  if (!card) return;
  const bar = card.querySelector("[data-import-bar]");
  const done = card.querySelector("[data-import-done]");
  const status = card.querySelector("[data-import-status]");
  const poll = async () => {
    try {
      const response = await fetch(card.dataset.importProgress, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const run = await response.json();
        if (run.finished) {
          window.location.reload();
          return;
        }
        bar.max = Math.max(run.lines_total, 1);
        bar.value = run.lines_done;
        done.textContent = run.lines_done;
        status.textContent = run.status_label;
      }
    } catch (error) { /* a missed poll is retried below */ }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
});
