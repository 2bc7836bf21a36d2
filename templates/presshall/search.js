/* Site search without a server: the index is a static file (search-index.js sets window.PRESSHALL_SEARCH,
   so it also works when the site is opened from disk). Every word typed must appear in the title, the
   department, the kind, the keywords, the digest, the section, the 文号, a speaker's name or the full text.
   Hits are highlighted with <mark>; a hit only in the full text shows the words around it. Results are built
   with textContent and createElement only. */
(function () {
  "use strict";
  var data = window.PRESSHALL_SEARCH || { fields: [], items: [] };
  var f = {};
  data.fields.forEach(function (name, i) { f[name] = i; });
  var haystack = data.items.map(function (it) {
    return [it[f.title], it[f.department], it[f.kind], it[f.keywords], it[f.digest], it[f.section], it[f.number],
            it[f.people], it[f.organ], it[f.text]].join(" ").toLowerCase();
  });

  /* Append ``text`` to ``el``, each occurrence of a word in a <mark>. */
  function marked(el, text, words) {
    var lower = text.toLowerCase(), at = 0;
    while (at < text.length) {
      var next = -1, len = 0;
      words.forEach(function (w) {
        var k = lower.indexOf(w, at);
        if (k !== -1 && (next === -1 || k < next)) { next = k; len = w.length; }
      });
      if (next === -1) { el.appendChild(document.createTextNode(text.slice(at))); break; }
      if (next > at) el.appendChild(document.createTextNode(text.slice(at, next)));
      var m = document.createElement("mark");
      m.textContent = text.slice(next, next + len);
      el.appendChild(m);
      at = next + len;
    }
    return el;
  }

  /* The words around the first hit in the full text, for a hit the title and digest do not show. */
  function snippet(text, words) {
    var lower = text.toLowerCase(), first = -1;
    words.forEach(function (w) { var k = lower.indexOf(w); if (k !== -1 && (first === -1 || k < first)) first = k; });
    if (first === -1) return "";
    var start = Math.max(0, first - 30);
    return (start > 0 ? "……" : "") + text.slice(start, first + 60) + (first + 60 < text.length ? "……" : "");
  }
  var input = document.getElementById("q");
  var status = document.getElementById("status");
  var list = document.getElementById("results");
  var LIMIT = 50;

  function show(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    list.textContent = "";
    if (!words.length) {
      status.textContent = "共收录 " + data.items.length + " 篇发布，请输入搜索词。";
      return;
    }
    var hits = [];
    for (var i = 0; i < haystack.length; i++) {
      if (words.every(function (w) { return haystack[i].indexOf(w) !== -1; })) hits.push(data.items[i]);
    }
    status.textContent = hits.length ? "找到 " + hits.length + " 篇" + (hits.length > LIMIT ? "，显示最新 " + LIMIT + " 篇" : "") + "。"
                                     : "没有找到包含“" + query + "”的发布。";
    hits.slice(0, LIMIT).forEach(function (it) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.className = "item-title";
      a.href = it[f.url];
      marked(a, it[f.title], words);
      var info = document.createElement("div");
      info.className = "info";
      [it[f.date], it[f.department], it[f.kind], it[f.section]].forEach(function (v) {
        var s = document.createElement("span");
        s.textContent = v;
        info.appendChild(s);
      });
      li.appendChild(a);
      li.appendChild(info);
      var shown = (it[f.title] + " " + it[f.digest]).toLowerCase();
      var extra = words.some(function (w) { return shown.indexOf(w) === -1; }) ? snippet(it[f.text] || "", words) : "";
      if (it[f.digest] || extra) {
        var p = document.createElement("p");
        p.className = "summary";
        marked(p, extra || it[f.digest], words);
        li.appendChild(p);
      }
      list.appendChild(li);
    });
  }

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  input.addEventListener("input", function () { show(input.value); });
  show(initial);
})();
