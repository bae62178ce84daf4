/* A tiny Markdown renderer that builds DOM nodes with textContent only.
 *
 * Model output is untrusted: it is never parsed as HTML. Supported: paragraphs (single line
 * breaks kept), headings, bullet and numbered lists, bold, italic, inline code and fenced
 * code blocks (an unclosed fence while streaming runs to the end). Anything else, including
 * raw HTML and links, is shown as the text it is. An ES module: `render` and `renderInto`.
 */
// Every pattern runs in linear time on a line a model wrote. No two adjacent quantifiers may
// take the same characters: `(.*?)\s*#*\s*$` took 78 s on one 8 KB heading line, and
// `\s*([\w+#.-]*)\s*$` or `\s+(.*)$` seconds on 32 KB of spaces, at every repaint. So a
// line's rest is taken whole (`[\s\S]*` cannot fail) and trimmed by code (fenceOf,
// headingText); an inline span is at most 1,000 characters (unbounded, an unclosed `**` was
// rescanned to the line's end from every later `**`: 2 s per repaint at 128 KB).
const FENCE = /^\s{0,3}(```|~~~)([\s\S]*)$/;
const FENCE_INFO = /^[\w+#.-]*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+([\s\S]*)$/;
const BULLET = /^\s{0,3}[-*+]\s+([\s\S]*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+([\s\S]*)$/;
// inline: `code`, **bold** / __bold__, *italic* / _italic_
const INLINE = /(`+)([\s\S]{0,1000}?[^`])\1(?!`)|\*\*(?=\S)([\s\S]{0,1000}?\S)\*\*|__(?=\S)([\s\S]{0,1000}?\S)__|\*(?=[^\s*])([\s\S]{0,1000}?[^\s*])\*|\b_(?=[^\s_])([\s\S]{0,1000}?[^\s_])_\b/;

/** A fence line's `marker` and `info` string (`python`), or null when `line` is no fence. */
function fenceOf(line) {
  const match = FENCE.exec(line);
  if (!match) return null;
  const info = match[2].trim();
  return FENCE_INFO.test(info) ? { marker: match[1], info: info } : null;
}

/** A heading's text without its closing `#`s and the blanks around them. */
function headingText(text) {
  const trimmed = text.trimEnd();
  let end = trimmed.length;
  while (end > 0 && trimmed[end - 1] === "#") end -= 1;
  return trimmed.slice(0, end).trimEnd();
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/** Append `text` to `parent` with inline formatting, as text nodes and elements. */
function inline(parent, text) {
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      parent.appendChild(document.createTextNode(rest));
      return;
    }
    if (match.index > 0) {
      parent.appendChild(document.createTextNode(rest.slice(0, match.index)));
    }
    if (match[1] !== undefined) {
      const code = el("code");
      code.textContent = match[2].replace(/^ (.*) $/, "$1");
      parent.appendChild(code);
    } else if (match[3] !== undefined || match[4] !== undefined) {
      const strong = el("strong");
      inline(strong, match[3] !== undefined ? match[3] : match[4]);
      parent.appendChild(strong);
    } else {
      const em = el("em");
      inline(em, match[5] !== undefined ? match[5] : match[6]);
      parent.appendChild(em);
    }
    rest = rest.slice(match.index + match[0].length);
  }
}

/** Lines of one paragraph, with the line breaks kept. */
function paragraph(lines) {
  const p = el("p");
  lines.forEach(function (line, i) {
    if (i > 0) p.appendChild(el("br"));
    inline(p, line.trim());
  });
  return p;
}

/** Render Markdown `source` into a DocumentFragment. */
export function render(source) {
  const out = document.createDocumentFragment();
  const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  let para = [];
  const flush = function () {
    if (para.length) out.appendChild(paragraph(para));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = fenceOf(line);
    if (fence) {
      flush();
      const body = [];
      i += 1;
      while (i < lines.length && !new RegExp("^\\s{0,3}" + fence.marker + "\\s*$").test(lines[i])) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or past the end)
      const pre = el("pre");
      const code = el("code");
      if (fence.info) {
        code.dataset.lang = fence.info;
        pre.dataset.lang = fence.info;
      }
      code.textContent = body.join("\n");
      pre.appendChild(code);
      out.appendChild(pre);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      const h = el("h" + Math.min(6, heading[1].length + 2));
      inline(h, headingText(heading[2]));
      out.appendChild(h);
      i += 1;
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      flush();
      const numbered = !BULLET.test(line);
      const pattern = numbered ? NUMBERED : BULLET;
      const list = el(numbered ? "ol" : "ul");
      if (numbered) {
        const start = parseInt(NUMBERED.exec(line)[1], 10);
        if (start !== 1) list.start = start;
      }
      while (i < lines.length && pattern.test(lines[i])) {
        const item = el("li");
        const match = pattern.exec(lines[i]);
        inline(item, numbered ? match[2] : match[1]);
        list.appendChild(item);
        i += 1;
      }
      out.appendChild(list);
      continue;
    }
    if (!line.trim()) {
      flush();
    } else {
      para.push(line);
    }
    i += 1;
  }
  flush();
  return out;
}

/** Replace the children of `node` with the rendering of `source`. */
export function renderInto(node, source) {
  node.replaceChildren(render(source));
}
