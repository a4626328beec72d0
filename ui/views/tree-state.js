// The waterfall's tree state over the server's preorder rows: parents, which rows
// are collapsed and which are visible, the selection, find matches and the zoom
// window. The waterfall component only reads it; the view changes it here.

/**
 * Returns { state, parentRow, rowBySpanId, positionOf(row), expandAncestors(row),
 *           toggle(row) → changed, setAllCollapsed(collapse) }.
 * `state` is what mountWaterfall draws: { view, collapsed, visible, selected,
 * matches, matchList, currentMatch, windowStartUs, windowEndUs, showCriticalPath }.
 */
export function createTreeState(view) {
  const { rows } = view;
  const numRows = rows.length;
  const parentRow = new Int32Array(numRows).fill(-1);
  const rowBySpanId = new Map();
  // Parents from depths: in preorder a row's parent is the last row one level up.
  const lastAtDepth = [];
  for (let i = 0; i < numRows; i += 1) {
    const { depth } = rows[i];
    parentRow[i] = depth > 0 ? lastAtDepth[depth - 1] : -1;
    lastAtDepth[depth] = i;
    if (!rowBySpanId.has(rows[i].spanId)) rowBySpanId.set(rows[i].spanId, i);
  }

  const state = {
    view,
    collapsed: new Uint8Array(numRows),
    visible: new Int32Array(0),
    selected: -1,
    matches: new Uint8Array(numRows),
    matchList: [],
    currentMatch: -1,
    windowStartUs: 0,
    windowEndUs: Math.max(view.durationUs, 1),
    showCriticalPath: true,
  };

  function recomputeVisible() {
    const visible = new Int32Array(numRows);
    let count = 0;
    for (let i = 0; i < numRows;) {
      visible[count] = i;
      count += 1;
      i += state.collapsed[i] ? rows[i].subtreeSize : 1;
    }
    state.visible = visible.subarray(0, count);
  }
  recomputeVisible();

  /** Index of `row` in the visible list, or -1; visible is sorted, so binary search. */
  function positionOf(row) {
    let low = 0;
    let high = state.visible.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (state.visible[middle] === row) return middle;
      if (state.visible[middle] < row) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  function expandAncestors(row) {
    let changed = false;
    for (let parent = parentRow[row]; parent >= 0; parent = parentRow[parent]) {
      if (state.collapsed[parent]) { state.collapsed[parent] = 0; changed = true; }
    }
    if (changed) recomputeVisible();
  }

  /** Collapses or expands one row; false for a leaf. */
  function toggle(row) {
    if (rows[row].subtreeSize <= 1) return false;
    state.collapsed[row] = state.collapsed[row] ? 0 : 1;
    recomputeVisible();
    // A selection hidden inside the collapsed subtree moves up to the collapsed row.
    if (state.selected > row && state.selected < row + rows[row].subtreeSize && state.collapsed[row]) {
      state.selected = row;
    }
    return true;
  }

  function setAllCollapsed(collapse) {
    for (let i = 0; i < numRows; i += 1) state.collapsed[i] = collapse && rows[i].subtreeSize > 1 ? 1 : 0;
    recomputeVisible();
    if (state.selected >= 0 && positionOf(state.selected) < 0) {
      let row = state.selected;
      while (parentRow[row] >= 0 && positionOf(row) < 0) row = parentRow[row];
      state.selected = row;
    }
  }

  return { state, parentRow, rowBySpanId, positionOf, expandAncestors, toggle, setAllCollapsed };
}
