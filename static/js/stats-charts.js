// Turnover dashboard: draw each section's chart from the JSON in #stats-data's data-stats (amounts in each section's unit: 亿元 or 万元).
// The table beside each chart carries the same numbers; without JavaScript the tables remain.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("stats-data");
  if (!source || typeof echarts === "undefined") return;
  const data = JSON.parse(source.dataset.stats);
  const charts = [];
  const toNumber = (values) => (values || []).map((value) => (value === null ? null : Number(value)));

  document.querySelectorAll("[data-chart]").forEach((element) => {
    const section = data.sections[element.dataset.chart];
    if (!section) return;
    const names = section.names;
    const series = [
      { name: names.contract, type: "bar", data: toNumber(section.contract), itemStyle: { color: "#1f6feb" } },
      { name: names.tech, type: "bar", data: toNumber(section.tech), itemStyle: { color: "#2da44e" } },
    ];
    if (section.published) {
      // Published figures are the authorities' own totals: drawn apart (dashed line, hollow points), never stacked.
      series.push({
        name: names.published,
        type: "line",
        data: toNumber(section.published),
        connectNulls: true,
        symbol: "emptyDiamond",
        symbolSize: 10,
        lineStyle: { type: "dashed", color: "#bf8700" },
        itemStyle: { color: "#bf8700" },
      });
    }
    const many = section.labels.length > 6;
    const chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption({
      tooltip: { trigger: "axis", confine: true },
      legend: { top: 0, type: "scroll" },
      grid: { left: 8, right: 8, bottom: many ? 56 : 8, top: 36, containLabel: true },
      xAxis: {
        type: "category",
        data: section.labels,
        axisLabel: { interval: 0, rotate: many ? 40 : 0, fontSize: 11 },
      },
      yAxis: { type: "value", name: names.unit, axisLabel: { fontSize: 11 } },
      series,
    });
    charts.push(chart);
  });
  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));

  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});
