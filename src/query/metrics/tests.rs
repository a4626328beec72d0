use super::*;
use crate::model::TraceId;

fn cell(durations_ms: &[u64], num_errors: usize) -> RedCell {
    let mut cell = RedCell::default();
    for (i, duration) in durations_ms.iter().enumerate() {
        cell.add(TraceId([i as u8; 16]), duration * 1_000_000, i < num_errors);
    }
    cell
}

#[test]
fn the_grid_is_aligned_to_the_step_and_bounded() {
    let grid = PointGrid::new(3_600_500, 3_600_000, 60_000).expect("grid");
    assert_eq!(
        grid,
        PointGrid {
            first_secs: 0,
            step_secs: 60,
            num_points: 61
        }
    );
    assert_eq!(grid.end_secs(), 3_660);
    // Jaeger's default step, 5 s, is answered at the cells' 10 s.
    assert_eq!(
        PointGrid::new(100_000, 60_000, 5_000)
            .expect("grid")
            .step_secs,
        10
    );
    assert_eq!(
        PointGrid::new(1 << 40, 1 << 40, 10_000),
        Err(GridError::TooManyPoints)
    );
}

#[test]
fn series_group_per_service_or_operation_and_skip_empty_ones() {
    let grid = PointGrid {
        first_secs: 600,
        step_secs: 60,
        num_points: 3,
    };
    let (a, b, c) = (cell(&[10, 20], 1), cell(&[30], 0), cell(&[40], 0));
    let empty = RedCell::default();
    let cells = [
        ("shop", "GET /", 600, &a),
        ("shop", "POST /buy", 670, &b),
        ("shop", "GET /", 720, &c),
        ("auth", "login", 600, &empty),
        ("shop", "GET /", 900, &c), // outside the grid
    ];
    let borrowed = || {
        cells.iter().map(|(service, operation, start, cell)| {
            (*service, *operation, *start, Cow::Borrowed(*cell))
        })
    };
    let per_service = build_series(&grid, false, borrowed());
    assert_eq!(per_service.len(), 1);
    let shop = &per_service[0];
    assert_eq!(
        (shop.service.as_str(), shop.operation.as_deref()),
        ("shop", None)
    );
    let calls: Vec<u64> = shop.points.iter().map(|point| point.num_calls).collect();
    assert_eq!(calls, [2, 1, 1]);
    assert_eq!(call_rate(&shop.points[0], grid.step_secs), Some(2.0 / 60.0));
    assert_eq!(error_rate(&shop.points[0]), Some(0.5));
    assert_eq!(error_rate(&shop.points[1]), Some(0.0));
    assert_eq!(shop.total.num_calls, 4);

    let per_operation = build_series(&grid, true, borrowed());
    let names: Vec<_> = per_operation
        .iter()
        .map(|series| series.operation.as_deref())
        .collect();
    assert_eq!(names, [Some("GET /"), Some("POST /buy")]);
    assert_eq!(per_operation[1].points[0].num_calls, 0);
    assert_eq!(latency_millis(&per_operation[1].points[0], 0.5), None);
    let p95 = latency_millis(&per_operation[0].points[0], 0.95).expect("calls");
    assert!((p95 - 20.0).abs() <= 0.2, "{p95}");
}
