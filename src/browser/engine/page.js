// Aviary's page-side half of the action engine. Called through Runtime.callFunctionOn as
// `function (op, ...args)` with `this` bound to the object the operation works on: the window
// (frameRoot, evaluate, navState), an array of elements (query, searchRoots, actionable, fill,
// ...), never anything the page can see: nothing is installed on the page's globals.
function (op, ...args) {
  const list = this;

  const framesOf = (win, path) => {
    for (const index of path) {
      const child = win.frames[index];
      if (!child) throw new Error(`the page has no frame at index ${index} of frame path [${path}]`);
      try { void child.document; } catch (e) { throw new Error(`frame [${path}] is from another origin: Aviary reaches same-origin frames only`); }
      win = child;
    }
    return win;
  };

  // Where the next part of a chain looks: inside the shadow root or iframe of an element.
  const inside = (node, first) => {
    if (first) return node;
    if (node.shadowRoot) return node.shadowRoot;
    if (node.contentDocument) return node.contentDocument;
    return node;
  };

  const childrenDeep = (node) => {
    const kids = [];
    if (node.shadowRoot) kids.push(...node.shadowRoot.children);
    if (node.children) kids.push(...node.children);
    else if (node.childNodes) for (const c of node.childNodes) if (c.nodeType === 1) kids.push(c);
    return kids;
  };

  const deepAll = (root, selector) => {
    const out = [];
    const walk = (r) => {
      out.push(...r.querySelectorAll(selector));
      for (const el of r.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
    };
    walk(root);
    return out;
  };

  const skipText = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'TITLE']);
  const normalize = (s) => s.replace(/\s+/g, ' ').trim();
  const ownText = (el) => {
    if (el.tagName === 'INPUT' && ['button', 'submit', 'reset'].includes(el.type)) return el.value;
    return el.textContent || '';
  };
  // The deepest elements whose text contains `text` (Puppeteer's `text/` selector).
  const byText = (root, text) => {
    const out = [];
    const wanted = normalize(text);
    const visit = (node) => {
      if (node.nodeType === 1 && skipText.has(node.tagName)) return false;
      let below = false;
      for (const child of childrenDeep(node)) if (visit(child)) below = true;
      if (below) return true;
      if (node.nodeType === 1 && normalize(ownText(node)).includes(wanted)) { out.push(node); return true; }
      return false;
    };
    visit(root);
    return out;
  };

  const byXPath = (root, expression) => {
    const doc = root.ownerDocument || root;
    const result = doc.evaluate(expression, root, null, 7 /* ORDERED_NODE_SNAPSHOT_TYPE */, null);
    const out = [];
    for (let i = 0; i < result.snapshotLength; i++) {
      const node = result.snapshotItem(i);
      if (node.nodeType === 1) out.push(node);
    }
    return out;
  };

  const unique = (nodes) => [...new Set(nodes)];

  const rectIn = (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.left, y: r.top, width: r.width, height: r.height };
  };

  // The element's frame offsets up to the top document (same-origin frames).
  const frameOffset = (el) => {
    let x = 0, y = 0;
    let win = el.ownerDocument.defaultView;
    while (win && win.frameElement) {
      const fe = win.frameElement;
      const r = fe.getBoundingClientRect();
      const cs = win.parent.getComputedStyle(fe);
      x += r.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft);
      y += r.top + parseFloat(cs.borderTopWidth) + parseFloat(cs.paddingTop);
      win = win.parent;
    }
    return { x, y };
  };

  const isVisible = (el) => {
    if (!el.isConnected) return false;
    if (typeof el.checkVisibility === 'function' && !el.checkVisibility({ visibilityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };

  const isDisabled = (el) => {
    if (el.getAttribute && el.getAttribute('aria-disabled') === 'true') return true;
    try { return el.matches(':disabled'); } catch (e) { return false; }
  };

  const nextFrame = (win) => new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    win.requestAnimationFrame(() => win.requestAnimationFrame(finish));
    win.setTimeout(finish, 100); // a hidden page runs no animation frames
  });

  const inView = (el) => {
    const r = el.getBoundingClientRect();
    const win = el.ownerDocument.defaultView;
    return r.top >= 0 && r.left >= 0 && r.bottom <= win.innerHeight && r.right <= win.innerWidth;
  };

  const scrollIntoView = (el) => {
    let node = el;
    while (node) {
      if (!inView(node)) node.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
      const win = node.ownerDocument.defaultView;
      node = win.frameElement;
    }
  };

  const dispatch = (el, ...types) => {
    for (const type of types) el.dispatchEvent(new Event(type, { bubbles: true }));
  };

  const typeable = new Set(['textarea', 'text', 'url', 'tel', 'search', 'password', 'number', 'email']);
  // Tag names, not `instanceof`: an element of a frame may come wrapped in another frame's world.
  const isTag = (el, name) => el.tagName === name;

  const ops = {
    // this = window: the document of the frame at `path` (indexes into child frames), in a list.
    frameRoot(path) {
      return [framesOf(list, path).document];
    },
    // this = window: evaluates `expression` in the frame's global scope.
    evaluate(path, expression) {
      return framesOf(list, path).eval(expression);
    },
    // this = window: what tells one document (and its state) from the next.
    navState(path) {
      const win = framesOf(list, path);
      return { ready: win.document.readyState, origin: win.performance.timeOrigin, url: win.location.href, title: win.document.title };
    },
    // this = roots: every element of the next chain part.
    query(kind, value, first) {
      const out = [];
      for (const node of list) {
        const root = inside(node, first);
        if (kind === 'css') out.push(...root.querySelectorAll(value));
        else if (kind === 'pierce') out.push(...deepAll(root, value));
        else if (kind === 'xpath') out.push(...byXPath(root, value));
        else if (kind === 'text') out.push(...byText(root, value));
        else throw new Error(`unknown selector kind ${kind}`);
      }
      return unique(out);
    },
    searchRoots(first) {
      return list.map((node) => inside(node, first));
    },
    pack(...nodes) {
      return unique(nodes.filter((n) => n && n.nodeType === 1));
    },
    // this = elements: whether the first can take input now, and where to point.
    async actionable(offset, needEnabled) {
      const el = list[0];
      if (!el || !el.isConnected) return { ok: false, reason: 'the element is no longer attached to the page' };
      if (!isVisible(el)) return { ok: false, reason: 'the element is not visible' };
      if (needEnabled && isDisabled(el)) return { ok: false, reason: 'the element is disabled' };
      scrollIntoView(el);
      const before = rectIn(el);
      await nextFrame(el.ownerDocument.defaultView);
      const after = rectIn(el);
      if (before.x !== after.x || before.y !== after.y || before.width !== after.width || before.height !== after.height) {
        return { ok: false, reason: 'the element is still moving' };
      }
      const frame = frameOffset(el);
      const x = frame.x + after.x + (offset ? offset[0] : after.width / 2);
      const y = frame.y + after.y + (offset ? offset[1] : after.height / 2);
      return { ok: true, x, y };
    },
    // this = elements: sets the first's value as a person would. Returns the text still to
    // type (keyboard), or null when the value is set.
    fill(value) {
      const el = list[0];
      const win = el.ownerDocument.defaultView;
      if (isTag(el, 'SELECT')) {
        const option = [...el.options].find((o) => o.value === value) || [...el.options].find((o) => normalize(o.textContent) === normalize(value));
        if (!option) throw new Error(`the select has no option ${JSON.stringify(value)} (options: ${[...el.options].map((o) => JSON.stringify(o.value)).join(', ')})`);
        el.value = option.value;
        dispatch(el, 'input', 'change');
        return null;
      }
      if (el.isContentEditable) {
        el.focus();
        const range = el.ownerDocument.createRange();
        range.selectNodeContents(el);
        const selection = win.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        return value;
      }
      if (isTag(el, 'TEXTAREA') || (isTag(el, 'INPUT') && typeable.has(el.type))) {
        el.focus();
        const current = el.value;
        if (value.startsWith(current)) {
          const end = current.length;
          try { el.setSelectionRange(end, end); } catch (e) { /* number inputs have no selection */ }
          return value.slice(end);
        }
        el.value = '';
        dispatch(el, 'input');
        return value;
      }
      if (isTag(el, 'INPUT')) {
        if (el.type === 'checkbox' || el.type === 'radio') {
          const wanted = !['false', 'off', '0', ''].includes(String(value).toLowerCase());
          if (el.checked !== wanted) { el.checked = wanted; dispatch(el, 'input', 'change'); }
          return null;
        }
        el.value = value;
        dispatch(el, 'input', 'change');
        return null;
      }
      throw new Error(`the element <${el.tagName.toLowerCase()}> takes no input (expected an input, textarea, select or contenteditable element)`);
    },
    // this = elements: whether the first is a checkbox or radio whose state differs from `checked`.
    needsToggle(checked) {
      const el = list[0];
      if (!isTag(el, 'INPUT') || !['checkbox', 'radio'].includes(el.type)) {
        const role = el.getAttribute('role');
        if (role === 'checkbox' || role === 'switch' || role === 'radio') return (el.getAttribute('aria-checked') === 'true') !== checked;
        throw new Error(`the element <${el.tagName.toLowerCase()}> is not a checkbox or radio button`);
      }
      if (el.type === 'radio' && !checked) throw new Error('a radio button cannot be unchecked; check another one');
      return el.checked !== checked;
    },
    scrollElement(x, y) {
      const el = list[0];
      el.scrollLeft = x;
      el.scrollTop = y;
    },
    // this = window: scrolls the frame's window.
    scrollWindow(path, x, y) {
      framesOf(list, path).scroll(x, y);
    },
    // this = elements: whether every element has these attributes and (deeply) these properties.
    matches(attributes, properties) {
      const deep = (a, b) => {
        if (a === b) return true;
        if ((a && !b) || (!a && b)) return false;
        const isObject = (x) => (typeof x === 'object' || typeof x === 'function') && x !== null;
        if (!isObject(a) || !isObject(b)) return false;
        return Object.entries(a).every(([k, v]) => deep(v, b[k]));
      };
      return list.every((el) =>
        Object.entries(attributes || {}).every(([name, value]) => el.getAttribute(name) === value) &&
        (!properties || deep(properties, el)));
    },
    count() {
      return list.length;
    },
    // this = elements: the first one's text as the page shows it (value for form fields).
    text() {
      const el = list[0];
      if ('value' in el && typeof el.value === 'string' && el.tagName !== 'BUTTON' && el.tagName !== 'OPTION' && el.tagName !== 'LI') return el.value;
      return el.innerText !== undefined ? el.innerText : el.textContent;
    },
  };
  const fn = ops[op];
  if (!fn) throw new Error(`unknown engine operation ${op}`);
  return fn(...args);
}
