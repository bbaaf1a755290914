/* The report in a browser: a chart point shows its month and value (written in the client's
   locale by kpireport.charts into its aria-label) on hover, tap or keyboard focus; the arrow
   keys move between a chart's points, one tab stop per chart. Nothing is loaded from outside
   the page; without this script the chart's SVG <title> still shows every month on hover.
   The points are built here from each chart's data-points ([x, y, text] a month), so that
   the PDF, which runs no script, does not carry them. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  Array.prototype.forEach.call(document.querySelectorAll("svg[data-points]"), function (svg) {
    var marks = JSON.parse(svg.getAttribute("data-points"));
    marks.forEach(function (mark, i) {
      var point = document.createElementNS(SVG, "circle");
      point.setAttribute("class", "chart-point");
      point.setAttribute("cx", mark[0]);
      point.setAttribute("cy", mark[1]);
      point.setAttribute("r", "7");
      point.setAttribute("fill", svg.getAttribute("data-colour") || "currentColor");
      point.setAttribute("fill-opacity", "0");
      // One tab stop per chart, its last month; the arrows move between the others.
      point.setAttribute("tabindex", i === marks.length - 1 ? "0" : "-1");
      point.setAttribute("role", "img");
      point.setAttribute("aria-label", mark[2]);
      var title = document.createElementNS(SVG, "title");
      title.textContent = mark[2];
      point.appendChild(title);
      svg.appendChild(point);
    });
  });
  function tipOf(plot) {
    var tip = plot.querySelector(".chart-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      tip.hidden = true;
      plot.appendChild(tip);
    }
    return tip;
  }
  function show(point) {
    var plot = point.closest(".chart-plot");
    if (!plot) { return; }
    var tip = tipOf(plot);
    var box = plot.getBoundingClientRect();
    var dot = point.getBoundingClientRect();
    tip.textContent = point.getAttribute("aria-label");
    tip.hidden = false;
    var left = dot.left + dot.width / 2 - box.left;
    var half = tip.offsetWidth / 2;
    // Kept inside the chart, so a tip near an edge never widens the page.
    left = Math.max(half, Math.min(box.width - half, left));
    tip.style.left = left + "px";
    tip.style.top = (dot.top - box.top) + "px";
  }
  function hide(point) {
    var plot = point.closest(".chart-plot");
    var tip = plot && plot.querySelector(".chart-tip");
    if (tip) { tip.hidden = true; }
  }
  var points = document.querySelectorAll(".chart-point");
  Array.prototype.forEach.call(points, function (point) {
    point.addEventListener("mouseenter", function () { show(point); });
    point.addEventListener("mouseleave", function () {
      if (document.activeElement !== point) { hide(point); }
    });
    point.addEventListener("focus", function () { show(point); });
    point.addEventListener("blur", function () { hide(point); });
    point.addEventListener("click", function () { point.focus(); show(point); });
    point.addEventListener("keydown", function (event) {
      var all = Array.prototype.slice.call(
        point.ownerSVGElement.querySelectorAll(".chart-point"));
      var i = all.indexOf(point);
      var next = null;
      if (event.key === "ArrowRight" || event.key === "ArrowUp") { next = all[i + 1]; }
      else if (event.key === "ArrowLeft" || event.key === "ArrowDown") { next = all[i - 1]; }
      else if (event.key === "Home") { next = all[0]; }
      else if (event.key === "End") { next = all[all.length - 1]; }
      else if (event.key === "Escape") { hide(point); return; }
      if (!next) { return; }
      event.preventDefault();
      point.setAttribute("tabindex", "-1");
      next.setAttribute("tabindex", "0");
      next.focus();
    });
  });
})();
