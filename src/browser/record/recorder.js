// The recorder, injected by `aviary record` into every document of the recorded tab (in an
// isolated world, so the page neither sees nor disturbs it). It watches what the person does and
// sends one JSON event per action to the binding `__aviaryRecord`; Rust turns them into Chrome
// DevTools Recorder steps (src/browser/record/steps.rs). Selectors are computed here, the way the
// Recorder panel computes them: aria, CSS, XPath, pierce and text, each a chain through shadow
// roots.
(() => {
  if (globalThis.__aviaryRecorderInstalled) return;
  globalThis.__aviaryRecorderInstalled = true;

  const BINDING = '__aviaryRecord';
  const TEST_ATTRIBUTES = ['data-testid', 'data-test', 'data-qa', 'data-cy', 'data-test-id'];
  // Past this many elements, uniqueness checks of aria and text selectors are skipped.
  const MAX_SCAN = 3000;
  const MAX_TEXT = 64;
  // Scrolls are recorded only this soon after a wheel, key or pointer action (not the page's own).
  const SCROLL_INPUT_WINDOW_MS = 1000;
  const SCROLL_SETTLE_MS = 250;
  const isTop = window === window.top;

  function send(event) {
    try {
      globalThis[BINDING](JSON.stringify(event));
    } catch (_) {
      // The binding is gone while the page unloads: nothing to record any more.
    }
  }

  // ---- where: frame path, element resolution ----

  function framePath() {
    const path = [];
    let w = window;
    try {
      while (w !== w.top) {
        const parent = w.parent;
        let index = -1;
        for (let i = 0; i < parent.frames.length; i++) {
          if (parent.frames[i] === w) { index = i; break; }
        }
        if (index < 0) return null;
        path.unshift(index);
        w = parent;
      }
    } catch (_) {
      return null;
    }
    return path;
  }

  function deepTarget(event) {
    const path = event.composedPath();
    for (const node of path) {
      if (node instanceof Element) return node;
    }
    return null;
  }

  const INTERACTIVE =
    'a[href], button, input, select, textarea, label, summary, [role="button"], [role="link"], ' +
    '[role="menuitem"], [role="tab"], [role="checkbox"], [role="radio"], [role="option"], [role="switch"]';

  // Text-level elements inside a button or link are recorded as the button or link.
  function actionTarget(element) {
    return element.closest(INTERACTIVE) || element;
  }

  const TEXT_INPUT_TYPES = new Set(['', 'text', 'search', 'url', 'tel', 'email', 'password', 'number']);

  function isTextField(element) {
    if (element instanceof HTMLTextAreaElement) return true;
    return element instanceof HTMLInputElement && TEXT_INPUT_TYPES.has(element.type);
  }

  function editingHost(element) {
    if (!element.isContentEditable) return null;
    let host = element;
    while (host.parentElement && host.parentElement.isContentEditable) host = host.parentElement;
    return host;
  }

  // The element whose value a `change` step sets, and that value.
  function changeTarget(element) {
    if (element instanceof HTMLSelectElement) return [element, element.value];
    if (element instanceof HTMLTextAreaElement) return [element, element.value];
    if (element instanceof HTMLInputElement) {
      const skip = ['checkbox', 'radio', 'button', 'submit', 'reset', 'image', 'file', 'hidden'];
      return skip.includes(element.type) ? null : [element, element.value];
    }
    const host = editingHost(element);
    return host ? [host, host.innerText] : null;
  }

  // ---- selectors ----

  function rootOf(element) {
    return element.getRootNode();
  }

  function shadowHosts(element) {
    // The chain of shadow hosts from the document down to (not including) the element's root.
    const hosts = [];
    let root = rootOf(element);
    while (root instanceof ShadowRoot) {
      hosts.unshift(root.host);
      root = rootOf(root.host);
    }
    return hosts;
  }

  function allRoots(root, out = []) {
    out.push(root);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.shadowRoot) allRoots(node.shadowRoot, out);
    }
    return out;
  }

  function deepElements() {
    const elements = [];
    for (const root of allRoots(document)) {
      for (const element of root.querySelectorAll('*')) {
        elements.push(element);
        if (elements.length > MAX_SCAN) return null;
      }
    }
    return elements;
  }

  function uniqueIn(root, selector, element) {
    try {
      const found = root.querySelectorAll(selector);
      return found.length === 1 && found[0] === element;
    } catch (_) {
      return false;
    }
  }

  function uniqueDeep(selector, element) {
    let count = 0;
    for (const root of allRoots(document)) {
      let found;
      try {
        found = root.querySelectorAll(selector);
      } catch (_) {
        return false;
      }
      for (const match of found) {
        if (match !== element || ++count > 1) return false;
      }
    }
    return count === 1;
  }

  const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

  function quoteAttribute(value) {
    return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
  }

  // One step of a CSS path: `#id`, `[data-testid='x']`, `tag.class`, or `tag:nth-of-type(n)`.
  function cssPart(element, root, unique) {
    if (element.id && unique(`#${CSS.escape(element.id)}`)) return [`#${CSS.escape(element.id)}`, true];
    for (const name of TEST_ATTRIBUTES) {
      const value = element.getAttribute(name);
      if (value) {
        const part = `[${name}=${quoteAttribute(value)}]`;
        if (unique(part)) return [part, true];
      }
    }
    const tag = element.localName;
    const parent = element.parentElement || element.parentNode;
    const classes = [...element.classList].filter((c) => IDENT.test(c)).slice(0, 2);
    const withClasses = tag + classes.map((c) => `.${c}`).join('');
    const siblings = parent ? [...parent.children].filter((c) => c !== element) : [];
    if (!siblings.some((s) => s.matches(withClasses))) return [withClasses, false];
    const sameTag = parent ? [...parent.children].filter((c) => c.localName === tag) : [element];
    return [`${tag}:nth-of-type(${sameTag.indexOf(element) + 1})`, false];
  }

  // The shortest `a > b > c` path (from the element up) unique in the element's own root.
  function cssInRoot(element, unique) {
    const root = rootOf(element);
    const parts = [];
    for (let node = element; node && node !== root; node = node.parentNode) {
      if (!(node instanceof Element)) break;
      const [part, anchored] = cssPart(node, root, (s) => unique(s, node));
      parts.unshift(part);
      const selector = parts.join(' > ');
      if (anchored || unique(selector, element)) return selector;
    }
    const selector = parts.join(' > ');
    return unique(selector, element) ? selector : null;
  }

  function cssSelector(element) {
    const chain = [];
    for (const node of [...shadowHosts(element), element]) {
      const root = rootOf(node);
      const selector = cssInRoot(node, (s, target) => uniqueIn(root, s, target));
      if (!selector) return null;
      chain.push(selector);
    }
    return chain;
  }

  function pierceSelector(element) {
    const selector = cssInRoot(element, uniqueDeep);
    return selector ? ['pierce/' + selector] : null;
  }

  function xpathSelector(element) {
    if (rootOf(element) !== document || element.namespaceURI !== 'http://www.w3.org/1999/xhtml') return null;
    const steps = [];
    for (let node = element; node instanceof Element; node = node.parentElement) {
      if (node.id && document.querySelectorAll(`#${CSS.escape(node.id)}`).length === 1 && !node.id.includes('"')) {
        steps.unshift(`/*[@id="${node.id}"]`);
        return ['xpath//' + steps.join('/')];
      }
      const tag = node.localName;
      const parent = node.parentElement;
      const sameTag = parent ? [...parent.children].filter((c) => c.localName === tag) : [node];
      steps.unshift(sameTag.length > 1 ? `${tag}[${sameTag.indexOf(node) + 1}]` : tag);
    }
    return ['xpath//' + steps.join('/')];
  }

  // Text as puppeteer's `text/` selector sees it: every text node, and the value of inputs.
  function fullText(node) {
    if (node instanceof HTMLInputElement || node instanceof HTMLTextAreaElement) return node.value;
    let text = '';
    const children = node.shadowRoot ? [...node.shadowRoot.childNodes, ...node.childNodes] : node.childNodes;
    for (const child of children) {
      if (child.nodeType === Node.TEXT_NODE) text += child.nodeValue;
      else if (child instanceof Element && !(child instanceof HTMLScriptElement || child instanceof HTMLStyleElement)) {
        text += fullText(child);
      }
    }
    return text;
  }

  function elementChildren(element) {
    const children = [...element.children];
    if (element.shadowRoot) children.push(...element.shadowRoot.children);
    return children;
  }

  function textSelector(element) {
    if (element.closest('input, textarea, select')) return null;
    const text = fullText(element).trim();
    if (!text || text.length > MAX_TEXT || /[\n\r\t]/.test(text)) return null;
    const elements = deepElements();
    if (!elements) return null;
    const matches = elements.filter((candidate) => {
      if (candidate instanceof HTMLScriptElement || candidate instanceof HTMLStyleElement) return false;
      if (!fullText(candidate).includes(text)) return false;
      return !elementChildren(candidate).some((child) => fullText(child).includes(text));
    });
    return matches.length === 1 && matches[0] === element ? ['text/' + text] : null;
  }

  // ---- accessible name and role (an approximation of Chrome's) ----

  function collapse(text) {
    return (text || '').replace(/\s+/g, ' ').trim();
  }

  function isHidden(element) {
    if (element.getAttribute('aria-hidden') === 'true' || element.hidden) return true;
    const style = getComputedStyle(element);
    return style.display === 'none' || style.visibility === 'hidden';
  }

  const BLOCK = /^(block|flex|grid|list-item|table|table-row|table-cell)$/;

  function textFromContent(node, skip) {
    let text = '';
    const children = node.shadowRoot ? node.shadowRoot.childNodes : node.childNodes;
    for (const child of children) {
      if (child.nodeType === Node.TEXT_NODE) {
        text += child.nodeValue;
        continue;
      }
      if (!(child instanceof Element) || child === skip || isHidden(child)) continue;
      if (child instanceof HTMLSlotElement) {
        for (const assigned of child.assignedNodes({ flatten: true })) {
          if (assigned.nodeType === Node.TEXT_NODE) text += assigned.nodeValue;
          else if (assigned instanceof Element && !isHidden(assigned)) text += textFromContent(assigned, skip);
        }
        continue;
      }
      let part;
      if (child.getAttribute('aria-label')) part = child.getAttribute('aria-label');
      else if (child instanceof HTMLImageElement) part = child.alt || '';
      else if (child instanceof HTMLInputElement || child instanceof HTMLSelectElement) part = isTextField(child) ? child.value : '';
      else part = textFromContent(child, skip);
      text += BLOCK.test(getComputedStyle(child).display) ? ` ${part} ` : part;
    }
    return text;
  }

  const NAME_FROM_CONTENT = new Set([
    'button', 'link', 'checkbox', 'radio', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'tab',
    'option', 'heading', 'switch', 'treeitem', 'cell', 'columnheader', 'rowheader', 'tooltip',
  ]);

  function implicitRole(element) {
    const tag = element.localName;
    if (tag === 'a' || tag === 'area') return element.hasAttribute('href') ? 'link' : null;
    if (tag === 'button') return 'button';
    if (tag === 'select') return element.multiple || element.size > 1 ? 'listbox' : 'combobox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'img') return element.alt ? 'image' : null;
    if (/^h[1-6]$/.test(tag)) return 'heading';
    if (tag === 'option') return 'option';
    if (tag === 'input') {
      if (element.hasAttribute('list')) return null;
      const roles = {
        button: 'button', submit: 'button', reset: 'button', image: 'button', checkbox: 'checkbox',
        radio: 'radio', range: 'slider', number: 'spinbutton', search: 'searchbox', '': 'textbox',
        text: 'textbox', email: 'textbox', tel: 'textbox', url: 'textbox', password: 'textbox',
      };
      return roles[element.type] || null;
    }
    return null;
  }

  function role(element) {
    const explicit = (element.getAttribute('role') || '').trim().split(/\s+/)[0];
    return explicit || implicitRole(element);
  }

  function byIds(element, ids) {
    const root = rootOf(element);
    return ids
      .split(/\s+/)
      .map((id) => root.getElementById && root.getElementById(id))
      .filter(Boolean)
      .map((labelled) => labelled.getAttribute('aria-label') || textFromContent(labelled))
      .join(' ');
  }

  function accessibleName(element) {
    const labelledBy = element.getAttribute('aria-labelledby');
    if (labelledBy) {
      const name = collapse(byIds(element, labelledBy));
      if (name) return name;
    }
    const label = collapse(element.getAttribute('aria-label'));
    if (label) return label;
    if (element instanceof HTMLInputElement && ['button', 'submit', 'reset'].includes(element.type)) {
      return collapse(element.value) || (element.type === 'submit' ? 'Submit' : element.type === 'reset' ? 'Reset' : '');
    }
    if (element.labels && element.labels.length) {
      const name = collapse([...element.labels].map((l) => textFromContent(l, element)).join(' '));
      if (name) return name;
    }
    if (element instanceof HTMLImageElement || (element instanceof HTMLInputElement && element.type === 'image')) {
      const alt = collapse(element.alt);
      if (alt) return alt;
    }
    if (NAME_FROM_CONTENT.has(role(element))) {
      const name = collapse(textFromContent(element));
      if (name) return name;
    }
    return collapse(element.getAttribute('title')) || collapse(element.getAttribute('placeholder'));
  }

  function ariaSelector(element) {
    const name = accessibleName(element);
    if (!name) return null;
    const elementRole = role(element);
    // Another element with the same name and role would make the selector ambiguous.
    const elements = deepElements();
    if (!elements) return null;
    const twin = elements.some(
      (other) => other !== element && role(other) === elementRole && !isHidden(other) && accessibleName(other) === name,
    );
    if (twin) return null;
    return [elementRole ? `aria/${name}[role="${elementRole}"]` : `aria/${name}`];
  }

  function selectors(element) {
    const computed = [ariaSelector, cssSelector, xpathSelector, pierceSelector, textSelector].map((compute) => {
      try {
        return compute(element);
      } catch (_) {
        return null;
      }
    });
    return computed.filter(Boolean);
  }

  // ---- recording ----

  let lastInput = 0;
  const pendingScrolls = new Map();

  function noteInput() {
    lastInput = Date.now();
  }

  function flushScrolls() {
    for (const [target, timer] of pendingScrolls) {
      clearTimeout(timer);
      sendScroll(target);
    }
    pendingScrolls.clear();
  }

  function step(event) {
    flushScrolls();
    const frame = framePath();
    if (frame === null) return;
    send({ ...event, frame });
  }

  function sendScroll(target) {
    const frame = framePath();
    if (frame === null) return;
    if (target === document) {
      send({ kind: 'scroll', frame, x: Math.round(window.scrollX), y: Math.round(window.scrollY) });
    } else if (target.isConnected) {
      send({ kind: 'scroll', frame, x: Math.round(target.scrollLeft), y: Math.round(target.scrollTop), selectors: selectors(target) });
    }
  }

  function offsets(element, event) {
    const rect = element.getClientRects()[0] || element.getBoundingClientRect();
    const round = (value) => Math.round(value * 10) / 10;
    return { offsetX: round(event.clientX - rect.left), offsetY: round(event.clientY - rect.top) };
  }

  // A click on a label clicks its control too; only the first click is the person's.
  let labelControl = null;

  function recordClick(event, button) {
    if (!event.isTrusted) return;
    const raw = deepTarget(event);
    if (!raw) return;
    const element = actionTarget(raw);
    if (labelControl && labelControl.element === element && Date.now() - labelControl.at < 100) {
      labelControl = null;
      return;
    }
    const label = element.closest('label');
    labelControl = label && label.control && label.control !== element ? { element: label.control, at: Date.now() } : null;
    step({ kind: 'click', button, ...offsets(element, event), selectors: selectors(element) });
  }

  window.addEventListener('click', (event) => {
    // detail 0: a click made by the keyboard (Enter, Space), recorded as the key press.
    if (event.button !== 0 || event.detail === 0) return;
    recordClick(event, 'primary');
  }, true);

  window.addEventListener('auxclick', (event) => {
    if (event.button === 1) recordClick(event, 'auxiliary');
  }, true);

  window.addEventListener('contextmenu', (event) => recordClick(event, 'secondary'), true);

  window.addEventListener('dblclick', (event) => {
    if (!event.isTrusted || event.button !== 0) return;
    const raw = deepTarget(event);
    if (!raw) return;
    const element = actionTarget(raw);
    step({ kind: 'doubleClick', ...offsets(element, event), selectors: selectors(element) });
  }, true);

  // The value last recorded per element: `input` and `change` events report the same edit.
  const recordedValues = new WeakMap();

  function recordChange(event) {
    if (!event.isTrusted) return;
    const raw = deepTarget(event);
    const target = raw && changeTarget(raw);
    if (!target) return;
    const [element, value] = target;
    if (recordedValues.get(element) === value) return;
    recordedValues.set(element, value);
    const password = element instanceof HTMLInputElement && element.type === 'password';
    step({ kind: 'change', value, password, selectors: selectors(element) });
  }

  window.addEventListener('input', recordChange, true);
  window.addEventListener('change', recordChange, true);

  const CARET_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown']);
  const EDIT_KEYS = new Set(['Backspace', 'Delete']);
  const ALWAYS_KEYS = new Set(['Enter', 'Tab', 'Escape']);

  // Keys that are not typing: recorded as keyDown / keyUp. Typing into a field is a `change`.
  function isRecordedKey(event) {
    const raw = deepTarget(event);
    const element = raw || document.activeElement || document.body;
    const field = isTextField(element) || !!editingHost(element);
    const multiline = element instanceof HTMLTextAreaElement || !!editingHost(element);
    if (event.key === 'Enter') return !multiline;
    if (ALWAYS_KEYS.has(event.key)) return true;
    if (CARET_KEYS.has(event.key)) return !field && !(element instanceof HTMLSelectElement);
    if (EDIT_KEYS.has(event.key)) return !field;
    if (event.key === ' ') return !field && !(element instanceof HTMLSelectElement);
    return false;
  }

  window.addEventListener('keydown', (event) => {
    noteInput();
    if (!event.isTrusted || event.isComposing || !isRecordedKey(event)) return;
    step({ kind: 'keyDown', key: event.key });
  }, true);

  window.addEventListener('keyup', (event) => {
    if (!event.isTrusted || !isRecordedKey(event)) return;
    step({ kind: 'keyUp', key: event.key });
  }, true);

  for (const type of ['wheel', 'pointerdown', 'touchmove']) {
    window.addEventListener(type, noteInput, { capture: true, passive: true });
  }

  document.addEventListener('scroll', (event) => {
    if (Date.now() - lastInput > SCROLL_INPUT_WINDOW_MS) return;
    const target = event.target;
    clearTimeout(pendingScrolls.get(target));
    pendingScrolls.set(target, setTimeout(() => {
      pendingScrolls.delete(target);
      sendScroll(target);
    }, SCROLL_SETTLE_MS));
  }, { capture: true, passive: true });

  if (isTop) {
    window.addEventListener('beforeunload', flushScrolls, true);
    const loaded = () => send({
      kind: 'document',
      url: location.href,
      title: document.title,
      width: window.innerWidth,
      height: window.innerHeight,
      deviceScaleFactor: window.devicePixelRatio,
    });
    if (document.readyState === 'complete') loaded();
    else window.addEventListener('load', loaded, { once: true });
  }
})();
