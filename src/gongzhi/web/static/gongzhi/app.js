/* gongzhi site behaviour — loaded with `defer` after vendor/htmx/htmx.min.js.
   No inline scripts/handlers: everything is wired via data-* attributes. */
(function () {
  'use strict';

  // --- htmx configuration (CSP-friendly) ---------------------------------
  // Runs before DOMContentLoaded (deferred script), i.e. before htmx inserts
  // its inline indicator <style>; site.css provides those rules instead.
  if (window.htmx && window.htmx.config) {
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  // (c) Send Django's CSRF token with every htmx request.
  document.addEventListener('htmx:configRequest', function (event) {
    const token = csrfToken();
    if (token && event.detail && event.detail.headers) {
      event.detail.headers['X-CSRFToken'] = token;
    }
  });

  // (a) <form data-confirm="确定要删除吗？"> asks before submitting.
  // Capture phase so it runs before htmx's own submit handling.
  document.addEventListener('submit', function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) {
      return;
    }
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // (b) <button data-copy="element-id"> copies that element's text.
  function fallbackCopy(text) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.top = '-1000px';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function flash(button, label) {
    if (!button.dataset.copyLabel) {
      button.dataset.copyLabel = button.textContent;
    }
    button.textContent = label;
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      button.textContent = button.dataset.copyLabel;
    }, 1500);
  }

  document.addEventListener('click', function (event) {
    const button = event.target.closest ? event.target.closest('button[data-copy]') : null;
    if (!button) {
      return;
    }
    event.preventDefault();
    const source = document.getElementById(button.dataset.copy);
    if (!source) {
      return;
    }
    const text = ('value' in source && typeof source.value === 'string' ? source.value : source.textContent).trim();
    copyText(text).then(
      function () { flash(button, button.dataset.copiedText || '已复制'); },
      function () { flash(button, button.dataset.copyFailedText || '复制失败'); }
    );
  });
})();
