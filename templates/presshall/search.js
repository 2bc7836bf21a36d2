/* Site search without a server: the index is a static file (search-index.js sets window.PRESSHALL_SEARCH,
   so it also works when the site is opened from disk). Every word typed must appear in the title, the
   department, the kind, the keywords, the digest or the section. Results are built with textContent only. */
(function () {
  "use strict";
  var data = window.PRESSHALL_SEARCH || { fields: [], items: [] };
  var f = {};
  data.fields.forEach(function (name, i) { f[name] = i; });
  var haystack = data.items.map(function (it) {
    return [it[f.title], it[f.department], it[f.kind], it[f.keywords], it[f.digest], it[f.section]].join(" ").toLowerCase();
  });
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
      a.textContent = it[f.title];
      var info = document.createElement("div");
      info.className = "info";
      [it[f.date], it[f.department], it[f.kind], it[f.section]].forEach(function (v) {
        var s = document.createElement("span");
        s.textContent = v;
        info.appendChild(s);
      });
      li.appendChild(a);
      li.appendChild(info);
      if (it[f.digest]) {
        var p = document.createElement("p");
        p.className = "summary";
        p.textContent = it[f.digest];
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
