// The report's only script: zoom and scroll the timeline strip, seek the video from a shot.
(function () {
  "use strict";
  const strip = document.getElementById("strip");
  const scroller = document.getElementById("strip-scroll");
  const level = document.querySelector(".zoom-level");
  const player = document.getElementById("player");
  const playhead = document.getElementById("playhead");
  const duration = parseFloat(strip.dataset.duration);
  const rows = document.querySelectorAll("tr.shot");
  const maxZoom = Math.max(1, duration / 10); // at most ten seconds across the window
  let zoom = 1;

  const tickSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

  function clock(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = Math.floor(seconds % 60);
    const two = function (n) { return String(n).padStart(2, "0"); };
    return (h ? h + ":" : "") + two(m) + ":" + two(s);
  }

  // Round time marks, about a dozen across the visible width, redrawn for each zoom level.
  function drawTicks() {
    const ticks = document.getElementById("ticks");
    const visible = duration / zoom;
    const step = tickSteps.find(function (s) { return visible / s <= 12; }) || tickSteps[tickSteps.length - 1];
    const marks = [];
    for (let t = 0; t <= duration * 0.995; t += step) {
      marks.push('<span style="left:' + (100 * t / duration) + '%">' + clock(t) + "</span>");
    }
    ticks.innerHTML = marks.join("");
  }

  function setZoom(next, anchor) {
    const fraction = (scroller.scrollLeft + anchor) / strip.offsetWidth;
    zoom = Math.min(maxZoom, Math.max(1, next));
    strip.style.width = (zoom * 100) + "%";
    scroller.scrollLeft = fraction * strip.offsetWidth - anchor;
    level.textContent = (zoom < 10 ? zoom.toFixed(1) : Math.round(zoom)) + "×";
    drawTicks();
  }

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      const factor = parseFloat(button.dataset.zoom);
      setZoom(factor === 0 ? 1 : zoom * factor, scroller.clientWidth / 2);
    });
  });
  scroller.addEventListener("wheel", function (event) {
    if (!event.ctrlKey && !event.metaKey) return; // plain wheel scrolls the page
    event.preventDefault();
    const rect = scroller.getBoundingClientRect();
    setZoom(zoom * (event.deltaY < 0 ? 1.25 : 0.8), event.clientX - rect.left);
  }, { passive: false });

  function rowOf(index) {
    return document.querySelector('tr.shot[data-shot="' + index + '"]');
  }

  function mark(row) {
    document.querySelectorAll("tr.shot.current").forEach(function (r) { r.classList.remove("current"); });
    if (row) row.classList.add("current");
  }

  function seek(seconds) {
    if (!player) return;
    player.currentTime = seconds;
    const playing = player.play();
    if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the seek stands */ });
  }

  rows.forEach(function (row) {
    row.addEventListener("click", function () {
      mark(row);
      seek(parseFloat(row.dataset.start));
    });
  });
  document.querySelectorAll("a.seek").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      seek(parseFloat(link.closest("[data-start]").dataset.start));
    });
  });
  document.getElementById("strip-svg").addEventListener("click", function (event) {
    const block = event.target.closest("rect[data-s]");
    if (!block) return;
    const row = rowOf(block.dataset.s);
    if (!row) return;
    mark(row);
    row.scrollIntoView({ block: "center" });
    seek(parseFloat(row.dataset.start));
  });
  drawTicks();
  if (player) {
    player.addEventListener("timeupdate", function () {
      playhead.setAttribute("x1", player.currentTime);
      playhead.setAttribute("x2", player.currentTime);
    });
  }
})();
