/* The report's charts and item browser. Every piece of data is written with textContent, never as markup. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("altax-data").textContent);
  var OUTCOMES = ["correct", "incorrect", "refused", "partial", "degenerate"];
  var PAGE = 100;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function drawCharts() {
    var pending = [];
    Object.keys(data.figures).forEach(function (id) {
      var target = document.getElementById(id);
      var spec = data.figures[id];
      if (!target) return;
      if (!spec) {
        target.appendChild(el("p", "empty", "Not enough data for this chart in this run."));
        return;
      }
      pending.push(Plotly.newPlot(target, spec.data, spec.layout, { displaylogo: false, responsive: true }));
    });
    return Promise.all(pending);
  }

  var browser = data.browser;
  var others = browser.configs.filter(function (c) { return c !== browser.reference; });
  var shown = PAGE;
  var controls = {
    category: document.getElementById("filter-category"),
    config: document.getElementById("filter-config"),
    flip: document.getElementById("filter-flip"),
    text: document.getElementById("filter-text"),
  };

  function addOptions(select, values) {
    values.forEach(function (value) {
      var option = el("option", null, value);
      option.value = value;
      select.appendChild(option);
    });
  }

  function setUpFilters() {
    var categories = [];
    var flips = {};
    browser.items.forEach(function (item) {
      if (categories.indexOf(item.category) < 0) categories.push(item.category);
      others.forEach(function (c) {
        var answer = item.answers[c];
        if (answer && answer.flip !== "unchanged") flips[answer.flip] = (flips[answer.flip] || 0) + 1;
      });
    });
    addOptions(controls.category, categories);
    addOptions(controls.config, others);
    addOptions(controls.flip, Object.keys(flips).sort(function (a, b) { return flips[b] - flips[a]; }));
    Object.keys(controls).forEach(function (key) {
      controls[key].addEventListener(key === "text" ? "input" : "change", function () { shown = PAGE; render(); });
    });
    document.getElementById("show-more").addEventListener("click", function () { shown += PAGE; render(); });
  }

  function considered() {
    return controls.config.value === "*" ? others : [controls.config.value];
  }

  function matches(item, configs) {
    if (controls.category.value !== "*" && item.category !== controls.category.value) return false;
    var flip = controls.flip.value;
    if (flip !== "*") {
      var hit = configs.some(function (c) {
        var answer = item.answers[c];
        return answer && (flip === "changed" ? answer.flip !== "unchanged" : answer.flip === flip);
      });
      if (!hit) return false;
    }
    var text = controls.text.value.trim().toLowerCase();
    if (!text) return true;
    if (item.prompt.toLowerCase().indexOf(text) >= 0) return true;
    return browser.configs.some(function (c) {
      var answer = item.answers[c];
      return answer && answer.response.toLowerCase().indexOf(text) >= 0;
    });
  }

  function answerNode(name, answer) {
    var box = el("div", "answer");
    var head = el("div", "answer-head", name);
    var outcome = OUTCOMES.indexOf(answer.outcome) >= 0 ? answer.outcome : "";
    head.appendChild(el("span", "badge " + outcome, answer.outcome));
    if (answer.flip !== "unchanged" && answer.flip !== "reference") head.appendChild(el("span", "badge flip", answer.flip));
    box.appendChild(head);
    box.appendChild(el("pre", "response", answer.response || "(empty)"));
    return box;
  }

  function itemNode(item, configs) {
    var node = el("article", "item");
    node.dataset.category = item.category;
    var title = el("h3", null, item.id);
    node.appendChild(title);
    node.appendChild(el("span", "tag", "category: " + item.category));
    node.appendChild(el("span", "tag", "kind: " + item.kind));
    node.appendChild(el("pre", "prompt", item.prompt));
    if (item.choices) node.appendChild(el("pre", "choices", item.choices));
    var answers = el("div", "answers");
    [browser.reference].concat(configs).forEach(function (c) {
      if (item.answers[c]) answers.appendChild(answerNode(c === browser.reference ? c + " (reference)" : c, item.answers[c]));
    });
    node.appendChild(answers);
    return node;
  }

  function render() {
    var configs = considered();
    var hits = browser.items.filter(function (item) { return matches(item, configs); });
    var list = document.getElementById("items");
    list.replaceChildren();
    hits.slice(0, shown).forEach(function (item) { list.appendChild(itemNode(item, configs)); });
    document.getElementById("item-count").textContent =
      hits.length + " of " + browser.items.length + " items match" +
      (hits.length > shown ? "; showing the first " + shown : "");
    document.getElementById("show-more").hidden = hits.length <= shown;
  }

  setUpFilters();
  render();
  drawCharts().then(
    function () { document.body.dataset.chartsReady = "true"; },
    function (error) { document.body.dataset.chartsReady = "error"; console.error(error); }
  );
})();
