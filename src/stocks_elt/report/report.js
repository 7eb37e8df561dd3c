/*
 * stocks-elt report: one chart per symbol, drawn with TradingView Lightweight Charts
 * from the JSON in #report-data. Panes: adjusted candles with SMA 50/200 and
 * Bollinger bands, volume, RSI 14, MACD (12, 26, 9). A null value is a gap.
 *
 * When every chart has drawn (or failed), <html> gets data-report-ready="true",
 * data-charts-expected and data-charts-rendered (charts whose canvases have a size),
 * which the headless browser test reads.
 */
(function () {
  "use strict";

  const COLORS = {
    up: "#16a34a",
    down: "#dc2626",
    upVolume: "rgba(22, 163, 74, 0.45)",
    downVolume: "rgba(220, 38, 38, 0.45)",
    sma50: "#2563eb",
    sma200: "#d97706",
    band: "#8b5cf6",
    bandMiddle: "rgba(139, 92, 246, 0.6)",
    rsi: "#0891b2",
    guide: "#94a3b8",
    macd: "#2563eb",
    signal: "#f97316",
    text: "#475569",
    grid: "#f1f5f9",
    border: "#e2e8f0",
  };
  const PANES = [
    { label: "", stretch: 4.2 },
    { label: "Volume", stretch: 1 },
    { label: "RSI 14", stretch: 1.25 },
    { label: "MACD 12, 26, 9", stretch: 1.45 },
  ];
  const MAX_FRAMES = 120;

  const root = document.documentElement;
  const charts = [];

  function points(times, values) {
    return times.map((time, i) =>
      values[i] === null ? { time } : { time, value: values[i] },
    );
  }

  function candles(s) {
    return s.time.map((time, i) => {
      const bar = { open: s.open[i], high: s.high[i], low: s.low[i], close: s.close[i] };
      if (Object.values(bar).some((value) => value === null)) return { time };
      return { time, ...bar };
    });
  }

  function isUp(s, i) {
    return s.close[i] !== null && s.open[i] !== null && s.close[i] >= s.open[i];
  }

  function volumes(s) {
    return s.time.map((time, i) =>
      s.volume[i] === null
        ? { time }
        : { time, value: s.volume[i], color: isUp(s, i) ? COLORS.upVolume : COLORS.downVolume },
    );
  }

  function histogram(s) {
    return s.time.map((time, i) => {
      const value = s.macd_histogram[i];
      if (value === null) return { time };
      return { time, value, color: value >= 0 ? COLORS.upVolume : COLORS.downVolume };
    });
  }

  function line(chart, s, column, options, pane) {
    const series = chart.addSeries(
      LightweightCharts.LineSeries,
      {
        lineWidth: 1.5,
        priceLineVisible: false,
        lastValueVisible: false,
        crosshairMarkerVisible: false,
        ...options,
      },
      pane,
    );
    series.setData(points(s.time, s[column]));
    return series;
  }

  function draw(container, s) {
    const chart = LightweightCharts.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "#ffffff" },
        textColor: COLORS.text,
        fontFamily: getComputedStyle(document.body).fontFamily,
        fontSize: 11,
        panes: { separatorColor: COLORS.border, enableResize: false },
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, rightOffset: 2 },
      crosshair: { mode: LightweightCharts.CrosshairMode.Normal },
    });

    const price = chart.addSeries(LightweightCharts.CandlestickSeries, {
      upColor: COLORS.up,
      downColor: COLORS.down,
      wickUpColor: COLORS.up,
      wickDownColor: COLORS.down,
      borderVisible: false,
      priceLineVisible: false,
    });
    price.setData(candles(s));
    line(chart, s, "bollinger_upper", { color: COLORS.band, lineWidth: 1 }, 0);
    line(chart, s, "bollinger_lower", { color: COLORS.band, lineWidth: 1 }, 0);
    line(chart, s, "bollinger_middle", { color: COLORS.bandMiddle, lineWidth: 1, lineStyle: 2 }, 0);
    line(chart, s, "sma_50", { color: COLORS.sma50 }, 0);
    line(chart, s, "sma_200", { color: COLORS.sma200 }, 0);

    const volume = chart.addSeries(
      LightweightCharts.HistogramSeries,
      { priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false },
      1,
    );
    volume.setData(volumes(s));

    const rsi = line(chart, s, "rsi_14", { color: COLORS.rsi, lastValueVisible: true }, 2);
    rsi.applyOptions({
      autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
    });
    for (const level of [70, 30]) {
      rsi.createPriceLine({
        price: level,
        color: COLORS.guide,
        lineWidth: 1,
        lineStyle: 2,
        axisLabelVisible: true,
      });
    }

    const macdHistogram = chart.addSeries(
      LightweightCharts.HistogramSeries,
      { priceLineVisible: false, lastValueVisible: false },
      3,
    );
    macdHistogram.setData(histogram(s));
    line(chart, s, "macd", { color: COLORS.macd, lastValueVisible: true }, 3);
    line(chart, s, "macd_signal", { color: COLORS.signal }, 3);

    chart.panes().forEach((pane, i) => pane.setStretchFactor(PANES[i].stretch));
    chart.timeScale().fitContent();
    return chart;
  }

  function formatNumber(value, digits) {
    if (value === null || value === undefined) return "–";
    const text = value.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    return /^-[0.,]+$/.test(text) ? text.slice(1) : text; // no "-0.000"
  }

  function formatVolume(value) {
    if (value === null || value === undefined) return "–";
    const units = [
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ];
    for (const [size, unit] of units) {
      if (Math.abs(value) >= size) return (value / size).toFixed(2) + unit;
    }
    return String(value);
  }

  function item(parent, label, value, color, dashed) {
    const span = document.createElement("span");
    if (color) {
      span.className = dashed ? "key dashed" : "key";
      span.style.setProperty("--key", color);
    }
    span.append(label + " ");
    const strong = document.createElement("b");
    strong.textContent = value;
    span.append(strong);
    parent.append(span);
  }

  function showLegend(legend, s, i) {
    const d = s.close[i] !== null && s.open[i] !== null ? s.close[i] - s.open[i] : null;
    legend.replaceChildren();
    item(legend, "", s.time[i]);
    item(legend, "O", formatNumber(s.open[i], 2));
    item(legend, "H", formatNumber(s.high[i], 2));
    item(legend, "L", formatNumber(s.low[i], 2));
    item(legend, "C", formatNumber(s.close[i], 2));
    const change = legend.lastChild.lastChild;
    if (d !== null) change.className = d >= 0 ? "up" : "down";
    item(legend, "SMA 50", formatNumber(s.sma_50[i], 2), COLORS.sma50);
    item(legend, "SMA 200", formatNumber(s.sma_200[i], 2), COLORS.sma200);
    item(
      legend,
      "Bollinger 20, 2",
      formatNumber(s.bollinger_lower[i], 2) + " – " + formatNumber(s.bollinger_upper[i], 2),
      COLORS.band,
      true,
    );
    item(legend, "Vol", formatVolume(s.volume[i]));
    item(legend, "RSI", formatNumber(s.rsi_14[i], 1), COLORS.rsi);
    item(legend, "MACD", formatNumber(s.macd[i], 3), COLORS.macd);
    item(legend, "Signal", formatNumber(s.macd_signal[i], 3), COLORS.signal);
  }

  function follow(chart, legend, s) {
    const index = new Map(s.time.map((time, i) => [time, i]));
    const last = s.time.length - 1;
    showLegend(legend, s, last);
    chart.subscribeCrosshairMove((param) => {
      const i = param.time === undefined ? undefined : index.get(param.time);
      showLegend(legend, s, i === undefined ? last : i);
    });
  }

  function labelPanes(chart, container) {
    let top = 0;
    chart.panes().forEach((pane, i) => {
      if (PANES[i].label) {
        const label = document.createElement("div");
        label.className = "pane-label";
        label.textContent = PANES[i].label;
        label.style.top = top + 6 + "px";
        container.append(label);
      }
      top += pane.getHeight() + 1;
    });
  }

  function showFailure(container, error) {
    const message = document.createElement("p");
    message.className = "chart-error";
    message.textContent = "This chart could not be drawn: " + error;
    container.replaceChildren(message);
  }

  function hasCanvas(container) {
    const canvas = container.querySelector("canvas");
    return canvas !== null && canvas.width > 0 && canvas.height > 0;
  }

  function main() {
    const data = JSON.parse(document.getElementById("report-data").textContent);
    const containers = document.querySelectorAll("[data-chart-index]");
    root.dataset.chartsExpected = String(containers.length);
    for (const container of containers) {
      const index = Number(container.dataset.chartIndex);
      const series = data.symbols[index];
      try {
        const chart = draw(container, series);
        const legend = document.querySelector('[data-legend-index="' + index + '"]');
        if (legend !== null) follow(chart, legend, series);
        charts.push({ chart, container });
      } catch (error) {
        console.error("chart for", series.symbol, "failed:", error);
        showFailure(container, error);
      }
    }
    let frames = 0;
    const settle = () => {
      const rendered = charts.filter(({ container }) => hasCanvas(container));
      if (rendered.length === charts.length || frames >= MAX_FRAMES) {
        for (const { chart, container } of rendered) labelPanes(chart, container);
        root.dataset.chartsRendered = String(rendered.length);
        root.dataset.reportReady = "true";
        return;
      }
      frames += 1;
      requestAnimationFrame(settle);
    };
    requestAnimationFrame(settle);
  }

  try {
    main();
  } catch (error) {
    console.error("report failed:", error);
    root.dataset.chartsRendered = "0";
    root.dataset.reportReady = "true";
  }
})();
