// 已有人反映: while a resident writes a report, show open cases that read as the same problem nearby
// and offer to follow one instead of filing again. Without scripts the report page works as before;
// the same suggestion then appears after submitting.
(function () {
  "use strict";
  var box = document.getElementById("report-similar");
  if (!box) return;
  var form = box.closest("form");
  var list = box.querySelector("ul");
  var names = ["title", "description", "lon", "lat", "coord_system"];
  var timer = null;
  var last = "";

  function draft() {
    var params = new URLSearchParams();
    names.forEach(function (name) {
      var input = form.elements[name];
      if (input) params.set(name, input.value || "");
    });
    return params;
  }

  function followForm(item, params) {
    var f = document.createElement("form");
    f.method = "post";
    f.action = item.follow_url;
    var fields = [["csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value]];
    params.forEach(function (value, key) { fields.push([key, value]); });
    fields.forEach(function (pair) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = pair[0];
      hidden.value = pair[1];
      f.appendChild(hidden);
    });
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "btn block";
    button.textContent = box.dataset.labelFollow;
    f.appendChild(button);
    return f;
  }

  function show(items, params) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var title = document.createElement("strong");
      title.textContent = item.title;
      var meta = document.createElement("span");
      meta.className = "muted";
      var parts = [item.status];
      if (item.distance_m !== null) parts.push(box.dataset.labelDistance.replace("{m}", item.distance_m));
      meta.textContent = " " + parts.join(" · ");
      li.appendChild(title);
      li.appendChild(meta);
      li.appendChild(followForm(item, params));
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }

  function check() {
    var params = draft();
    var key = params.toString();
    if (key === last) return;
    last = key;
    fetch(box.dataset.url + "?" + key, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { cases: [] }; })
      .then(function (data) { show(data.cases || [], params); })
      .catch(function () { /* a failed check never blocks reporting */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(check, 600);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  // The map sets the hidden lon/lat inputs without input events.
  setInterval(function () { if (!document.hidden) check(); }, 3000);
})();
