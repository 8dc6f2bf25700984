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

  const events = new EventSource(source);
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
