/* casemap.js — Leaflet maps of the cases module, configured only through data- attributes
   (no inline script, CSP-safe). Load after vendor/leaflet/leaflet.js, both with `defer`.

   No tile server: region boundaries (GeoJSON, WGS-84) are drawn as vector layers, so the map's
   coordinates are WGS-84 and a point picked on it is WGS-84 too.

   Three modes, chosen by data-casemap:

   <div data-casemap="open"                 read-only map of open cases
        data-points-url="/cases/map/points.json?sla=red"   JSON {points: [{number, title, status_label,
                                                           sla, sla_label, lon, lat, url}]}
        data-regions="id-of-json-script"    a GeoJSON FeatureCollection (properties: name, code, level)
        data-status="id"                    element that receives "N ..." or the error text
        data-label-open="查看详情" data-label-count="件…" data-label-error="…">

   <div data-casemap="point" data-lon="105.58" data-lat="30.45" data-regions="id">   one point, read-only

   <div data-casemap="pick"                 choose a point; writes it into the given inputs
        data-lon-input="id" data-lat-input="id" data-coord-input="id (set to wgs84)"
        data-regions="id" data-locate-button="id" data-clear-button="id" data-status="id"
        data-label-locating / -located / -picked / -cleared / -denied="…">
   The browser's geolocation (navigator.geolocation) reports WGS-84, as the W3C spec requires.
*/
(function () {
  'use strict';

  var COLOURS = { green: '#1b6b3a', yellow: '#d08c00', red: '#b3261e' };
  var DEFAULT_VIEW = { center: [35.0, 105.0], zoom: 4 };
  var LEVEL_STYLES = {
    street: { color: '#7f1611', weight: 3, fill: false },
    community: { color: '#1b5394', weight: 2, fillColor: '#1b5394', fillOpacity: 0.03 },
    grid: { color: '#596270', weight: 1, fillColor: '#1b5394', fillOpacity: 0.07 }
  };

  function byId(id) {
    return id ? document.getElementById(id) : null;
  }

  function readJson(id) {
    var el = byId(id);
    if (!el) {
      return null;
    }
    try {
      return JSON.parse(el.textContent);
    } catch (e) {
      return null;
    }
  }

  function label(el, name, fallback) {
    return el.getAttribute('data-label-' + name) || fallback;
  }

  function setStatus(el, text) {
    var target = byId(el.getAttribute('data-status'));
    if (target) {
      target.textContent = text || '';
    }
  }

  function textElement(tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text == null ? '' : String(text);
    if (className) {
      node.className = className;
    }
    return node;
  }

  function newMap(el) {
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.5 });
    // Give the map a view before any layer is added: layers added to a map that is not yet "loaded"
    // are queued, and paths can then reach a renderer that has not been laid out.
    map.setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
    return map;
  }

  function drawRegions(map, el) {
    var data = readJson(el.getAttribute('data-regions'));
    if (!data || !data.features || !data.features.length) {
      return null;
    }
    return L.geoJSON(data, {
      style: function (feature) {
        var level = feature.properties && feature.properties.level;
        return LEVEL_STYLES[level] || LEVEL_STYLES.grid;
      },
      onEachFeature: function (feature, layer) {
        var name = feature.properties && feature.properties.name;
        if (name) {
          // Text node, never HTML: names come from data.
          layer.bindTooltip(textElement('span', name), { sticky: true });
        }
      }
    }).addTo(map);
  }

  function fit(map, layers, fallbackZoom) {
    var bounds = null;
    layers.forEach(function (layer) {
      if (!layer) {
        return;
      }
      var b = layer.getBounds ? layer.getBounds() : null;
      if (b && b.isValid()) {
        bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      }
    });
    if (bounds) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: fallbackZoom || 17 });
    } else {
      map.setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
    }
  }

  function dot(lat, lon, colour, radius) {
    return L.circleMarker([lat, lon], {
      radius: radius || 7,
      color: '#ffffff',
      weight: 2,
      fillColor: colour,
      fillOpacity: 0.95
    });
  }

  // ---------------------------------------------------------------- open cases

  function popup(el, p) {
    var box = document.createElement('div');
    box.className = 'casemap-popup';
    box.appendChild(textElement('strong', p.number, 'mono'));
    box.appendChild(textElement('div', p.title));
    box.appendChild(textElement('div', [p.status_label, p.sla_label].filter(Boolean).join(' · '), 'muted'));
    if (p.url) {
      var link = textElement('a', label(el, 'open', '查看详情'));
      link.href = p.url;
      box.appendChild(link);
    }
    return box;
  }

  function initOpen(el) {
    var map = newMap(el);
    var regions = drawRegions(map, el);
    var markers = L.featureGroup().addTo(map);
    fit(map, [regions]);
    var url = el.getAttribute('data-points-url');
    if (!url || !window.fetch) {
      return;
    }
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var points = (data && data.points) || [];
        // The list comes red first; draw it last so red markers sit on top.
        points.slice().reverse().forEach(function (p) {
          if (typeof p.lat !== 'number' || typeof p.lon !== 'number') {
            return;
          }
          var marker = dot(p.lat, p.lon, COLOURS[p.sla] || COLOURS.green);
          marker.bindPopup(popup(el, p));
          marker.bindTooltip(textElement('span', p.number + ' ' + (p.title || '')));
          marker.addTo(markers);
        });
        if (!regions && points.length) {
          fit(map, [markers]);
        }
        setStatus(el, points.length + ' ' + label(el, 'count', ''));
      })
      .catch(function () {
        setStatus(el, label(el, 'error', '地图数据加载失败'));
      });
  }

  // ---------------------------------------------------------------- one point

  function initPoint(el) {
    var map = newMap(el);
    var regions = drawRegions(map, el);
    var lon = parseFloat(el.getAttribute('data-lon'));
    var lat = parseFloat(el.getAttribute('data-lat'));
    if (!isNaN(lon) && !isNaN(lat)) {
      dot(lat, lon, COLOURS.red, 8).addTo(map);
      if (regions) {
        fit(map, [regions]);
      } else {
        map.setView([lat, lon], 16);
      }
    } else {
      fit(map, [regions]);
    }
  }

  // ---------------------------------------------------------------- pick a point

  function initPick(el) {
    var map = newMap(el);
    var regions = drawRegions(map, el);
    var lonInput = byId(el.getAttribute('data-lon-input'));
    var latInput = byId(el.getAttribute('data-lat-input'));
    var coordInput = byId(el.getAttribute('data-coord-input'));
    var marker = null;

    function place(lat, lon) {
      if (marker) {
        marker.setLatLng([lat, lon]);
      } else {
        marker = dot(lat, lon, COLOURS.red, 9).addTo(map);
      }
      if (lonInput) {
        lonInput.value = lon.toFixed(6);
      }
      if (latInput) {
        latInput.value = lat.toFixed(6);
      }
      // Both the vector map and the Geolocation API are WGS-84.
      if (coordInput) {
        coordInput.value = 'wgs84';
      }
    }

    function clear() {
      if (marker) {
        map.removeLayer(marker);
        marker = null;
      }
      if (lonInput) {
        lonInput.value = '';
      }
      if (latInput) {
        latInput.value = '';
      }
    }

    var lon0 = lonInput ? parseFloat(lonInput.value) : NaN;
    var lat0 = latInput ? parseFloat(latInput.value) : NaN;
    if (!isNaN(lon0) && !isNaN(lat0)) {
      place(lat0, lon0);
      map.setView([lat0, lon0], 16);
    } else {
      fit(map, [regions]);
    }

    map.on('click', function (event) {
      place(event.latlng.lat, event.latlng.lng);
      setStatus(el, label(el, 'picked', '已选择位置'));
    });

    var locate = byId(el.getAttribute('data-locate-button'));
    if (locate) {
      if (!navigator.geolocation) {
        locate.disabled = true;
      }
      locate.addEventListener('click', function (event) {
        event.preventDefault();
        if (!navigator.geolocation) {
          setStatus(el, label(el, 'denied', '无法获取当前位置'));
          return;
        }
        setStatus(el, label(el, 'locating', '正在获取当前位置……'));
        navigator.geolocation.getCurrentPosition(
          function (position) {
            var lat = position.coords.latitude;
            var lon = position.coords.longitude;
            place(lat, lon);
            map.setView([lat, lon], Math.max(map.getZoom() || 0, 16));
            setStatus(el, label(el, 'located', '已使用当前位置'));
          },
          function () {
            setStatus(el, label(el, 'denied', '无法获取当前位置'));
          },
          { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
        );
      });
    }

    var clearButton = byId(el.getAttribute('data-clear-button'));
    if (clearButton) {
      clearButton.addEventListener('click', function (event) {
        event.preventDefault();
        clear();
        setStatus(el, label(el, 'cleared', '已清除位置'));
      });
    }
  }

  // ---------------------------------------------------------------- start

  var MODES = { open: initOpen, point: initPoint, pick: initPick };

  function init(root) {
    if (!window.L) {
      return;
    }
    var scope = root && root.querySelectorAll ? root : document;
    var elements = scope.querySelectorAll('[data-casemap]');
    Array.prototype.forEach.call(elements, function (el) {
      var start = MODES[el.getAttribute('data-casemap')];
      if (!start || el.getAttribute('data-casemap-ready')) {
        return;
      }
      el.setAttribute('data-casemap-ready', '1');
      start(el);
    });
  }

  window.GongzhiCaseMap = { init: init };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { init(document); });
  } else {
    init(document);
  }
  // Content swapped in by htmx gets its maps too.
  document.addEventListener('htmx:load', function (event) { init(event.target); });
})();
