// The waterfall's tree state over the server's preorder rows: parents, which rows
// are collapsed and which are visible, the selection, find matches and the zoom
// window. The waterfall component only reads it; the view changes it here.

/**
 * Returns { state, parentRow, rowBySpanId, positionOf(row), expandAncestors(row),
 *           toggle(row) → changed, toggleGroup(row) → changed, setAllCollapsed(collapse) }.
 * `state` is what mountWaterfall draws: { view, collapsed, visible, selected,
 * matches, matchList, currentMatch, windowStartUs, windowEndUs, showCriticalPath,
 * groups, groupOf, groupCollapsed }.
 *
 * Groups are the server's N+1 findings (view.nPlusOne): repeated sibling rows that
 * start out folded into their first row, drawn as one "× N" row; the others, with
 * their subtrees, are hidden until the group is expanded.
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

  const groups = view.nPlusOne ?? [];
  const groupOf = new Int32Array(numRows).fill(-1);
  groups.forEach((group, index) => {
    for (const row of group.rows) if (row < numRows) groupOf[row] = index;
  });
  const groupHead = (group) => groups[group].rows[0];

  const state = {
    view,
    groups,
    groupOf,
    groupCollapsed: new Uint8Array(groups.length).fill(1),
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
      const group = groupOf[i];
      const folded = group >= 0 && state.groupCollapsed[group] === 1;
      if (folded && groupHead(group) !== i) {
        i += rows[i].subtreeSize; // a hidden repeat, with its subtree
        continue;
      }
      visible[count] = i;
      count += 1;
      i += state.collapsed[i] || folded ? rows[i].subtreeSize : 1;
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
    // A row inside a folded group (a repeat, or below the group's row) unfolds it.
    for (let at = row; at >= 0; at = parentRow[at]) {
      const group = groupOf[at];
      if (group >= 0 && state.groupCollapsed[group] && !(at === row && groupHead(group) === row)) {
        state.groupCollapsed[group] = 0;
        changed = true;
      }
    }
    if (changed) recomputeVisible();
  }

  /** Folds or unfolds the group whose first row is `row`; false when there is none. */
  function toggleGroup(row) {
    const group = groupOf[row];
    if (group < 0 || groupHead(group) !== row) return false;
    state.groupCollapsed[group] = state.groupCollapsed[group] ? 0 : 1;
    recomputeVisible();
    if (state.selected >= 0 && positionOf(state.selected) < 0) state.selected = row;
    return true;
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
    state.groupCollapsed.fill(collapse ? 1 : 0);
    recomputeVisible();
    if (state.selected >= 0 && positionOf(state.selected) < 0) {
      let row = state.selected;
      while (parentRow[row] >= 0 && positionOf(row) < 0) row = parentRow[row];
      state.selected = row;
    }
  }

  return { state, parentRow, rowBySpanId, positionOf, expandAncestors, toggle, toggleGroup, setAllCollapsed };
}
