// pyworker admin: live updates of the overview over SSE. It sets text only (textContent),
// never HTML, so a queue or node name from Redis can never become markup.
"use strict";

(function () {
  const source = document.body.dataset.events;
  if (!source) return;

  function setText(selector, value) {
    const el = document.querySelector(selector);
    if (el) el.textContent = String(value);
  }

  function queueRows(queues) {
    const tbody = document.querySelector("#queues tbody");
    const template = document.getElementById("queue-row");
    if (!tbody || !template) return;
    const rows = new Map();
    tbody.querySelectorAll("tr[data-queue]").forEach((tr) => rows.set(tr.dataset.queue, tr));
    tbody.querySelectorAll("tr.empty").forEach((tr) => tr.remove());
    const wanted = new Set();
    for (const q of queues) {
      wanted.add(q.queue);
      let tr = rows.get(q.queue);
      if (!tr) {
        tr = template.content.firstElementChild.cloneNode(true);
        tr.dataset.queue = q.queue;
        const link = tr.querySelector("[data-cell=queue] a");
        link.textContent = q.queue;
        link.href = "/tasks/ready?queue=" + encodeURIComponent(q.queue);
        tr.querySelectorAll("input[name=queue]").forEach((input) => { input.value = q.queue; });
        tbody.appendChild(tr);
      }
      for (const field of ["ready", "delayed", "processing"]) {
        tr.querySelector("[data-cell=" + field + "]").textContent = String(q[field]);
      }
      tr.querySelector("[data-cell=state]").textContent = q.paused ? "paused" : "running";
      tr.querySelectorAll("form[data-when]").forEach((form) => {
        form.hidden = form.dataset.when !== (q.paused ? "paused" : "running");
      });
    }
    rows.forEach((tr, name) => { if (!wanted.has(name)) tr.remove(); });
  }

  function nodeRows(nodes) {
    const tbody = document.querySelector("#nodes tbody");
    if (!tbody) return;
    tbody.replaceChildren();
    if (!nodes.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = document.createElement("td");
      td.colSpan = 4;
      td.textContent = "No node has sent a heartbeat.";
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    for (const n of nodes) {
      const tr = document.createElement("tr");
      for (const text of [n.node_id, n.version, n.queues.join(", ") || "all", n.running + "/" + n.concurrency]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  // The charts: one polyline per series over the last hour, drawn as SVG elements (no library).
  const SVG = "http://www.w3.org/2000/svg";

  function svgElement(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
    return el;
  }

  function chart(id, samples, series, span) {
    const svg = document.getElementById(id);
    if (!svg) return;
    svg.replaceChildren();
    const width = 600, height = 150, top = 12, bottom = 16;
    const end = samples.length ? samples[samples.length - 1].at : Date.now() / 1000;
    const start = end - span;
    let max = 1;
    for (const s of samples) for (const name of series) max = Math.max(max, s[name]);
    const x = (at) => ((at - start) / span) * width;
    const y = (value) => height - bottom - (value / max) * (height - top - bottom);
    svg.appendChild(svgElement("line", { x1: 0, y1: y(0), x2: width, y2: y(0), class: "axis" }));
    const label = svgElement("text", { x: 4, y: 10, class: "tick" });
    label.textContent = "max " + max;
    svg.appendChild(label);
    const ago = svgElement("text", { x: 4, y: height - 3, class: "tick" });
    ago.textContent = span >= 3600 ? Math.round(span / 3600) + " h ago" : Math.round(span / 60) + " min ago";
    svg.appendChild(ago);
    for (const name of series) {
      const points = samples.filter((s) => s.at >= start).map((s) => x(s.at).toFixed(1) + "," + y(s[name]).toFixed(1));
      svg.appendChild(svgElement("polyline", { points: points.join(" "), class: name, "data-series": name }));
    }
  }

  function drawHistory(history) {
    const samples = history.samples;
    const span = history.interval * history.capacity;
    chart("chart-depth", samples, ["ready", "delayed", "processing", "dead"], span);
    chart("chart-throughput", samples, ["completed", "failed"], span);
    setText("[data-field=samples]", samples.length);
    const last = samples[samples.length - 1];
    setText("[data-field=throughput-last]", last ? last.completed + " completed, " + last.failed + " failed" : "—");
  }

  const events = new EventSource(source);
  events.addEventListener("history", (message) => drawHistory(JSON.parse(message.data)));
  events.addEventListener("overview", (message) => {
    const data = JSON.parse(message.data);
    for (const field of ["ready", "delayed", "processing", "dead"]) setText("[data-total=" + field + "]", data[field]);
    setText("[data-total=nodes]", data.nodes.length);
    const banner = document.querySelector("[data-field=paused-banner]");
    if (banner) banner.hidden = !data.paused;
    queueRows(data.queues);
    nodeRows(data.nodes);
    setText("[data-field=live]", "live · " + new Date().toLocaleTimeString());
  });
  events.addEventListener("error", (message) => {
    const text = message.data ? JSON.parse(message.data).message : "reconnecting…";
    setText("[data-field=live]", "not live: " + text);
  });
})();
