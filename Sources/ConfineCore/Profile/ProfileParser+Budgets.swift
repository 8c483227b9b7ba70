import Yams

/// `budgets:` and `regression:` (docs/profiles.md), with the same file:line:column errors as
/// the rest of a profile.
extension ProfileParser {
    static let budgetScopes = BudgetScope.allCases.map(\.rawValue)

    func budgets(_ node: Node) throws(ProfileError) -> BudgetSpec {
        var rules: [BudgetRule] = []
        for (key, value) in try mapping(node, what: "'budgets'", allowed: Self.budgetScopes) {
            let scope = BudgetScope(rawValue: key.string)!
            if scope == .suite || scope == .load {
                rules.append(BudgetRule(scope: scope, pattern: "", thresholds: try thresholds(value, scope: scope, path: "budgets.\(scope.rawValue)")))
                continue
            }
            guard let patterns = value.mapping else {
                throw ProfileError(at: location(of: value),
                                   "'budgets.\(scope.rawValue)' must map names or globs to budgets, such as \"ReportTests/*\": { duration: 2s }")
            }
            for (patternNode, budget) in patterns {
                guard let pattern = patternNode.scalar?.string, !pattern.isEmpty else {
                    throw ProfileError(at: location(of: patternNode), "budgets.\(scope.rawValue): expected a name or glob as the key")
                }
                let path = "budgets.\(scope.rawValue).\(pattern)"
                rules.append(BudgetRule(scope: scope, pattern: pattern, thresholds: try thresholds(budget, scope: scope, path: path)))
            }
        }
        return BudgetSpec(rules: rules)
    }

    /// `{ p95: 2ms, p99: "< 5ms", level: warn }`, `"p95<2ms, max<50ms"`, or a list of compact strings.
    private func thresholds(_ node: Node, scope: BudgetScope, path: String) throws(ProfileError) -> [BudgetThreshold] {
        let metrics = BudgetMetric.allowed(in: scope)
        let names = metrics.map(\.rawValue)
        var found: [BudgetThreshold] = []
        var level = BudgetLevel.fail
        switch node {
        case .scalar(let scalar):
            found = try compact(scalar.string, node: node, scope: scope, path: path)
        case .sequence(let items):
            for item in items {
                guard let text = item.scalar?.string else {
                    throw ProfileError(at: location(of: item), "'\(path)': expected a budget such as \"p95<2ms\", found \(kind(of: item))")
                }
                found += try compact(text, node: item, scope: scope, path: path)
            }
        case .mapping:
            for (key, value) in try mapping(node, what: "'\(path)'", allowed: names + ["level"]) {
                if key.string == "level" {
                    let text = try scalarText(value, key: "\(path).level")
                    guard let parsed = BudgetLevel(rawValue: text) else {
                        throw ProfileError(at: location(of: value), "'\(path).level': '\(text)' is not a level; expected fail or warn")
                    }
                    level = parsed
                    continue
                }
                let metric = BudgetMetric(rawValue: key.string)!
                let text = try scalarText(value, key: "\(path).\(metric.rawValue)")
                do {
                    let (comparison, limit) = try BudgetThreshold.parse(metric: metric, text)
                    found.append(BudgetThreshold(metric: metric, comparison: comparison, limit: limit))
                } catch {
                    throw ProfileError(at: location(of: value), "'\(path).\(metric.rawValue)': \(error.message)")
                }
            }
        case .alias:
            throw ProfileError(at: location(of: node), "'\(path)': aliases are not supported here")
        }
        guard !found.isEmpty else {
            throw ProfileError(at: location(of: node), "'\(path)' sets no budget; expected metrics such as \(names.prefix(3).joined(separator: ", "))")
        }
        return found.map { var threshold = $0; threshold.level = level; return threshold }
    }

    /// `p95<2ms`, `p95 < 2ms, max <= 50ms`.
    private func compact(_ text: String, node: Node, scope: BudgetScope, path: String) throws(ProfileError) -> [BudgetThreshold] {
        let names = BudgetMetric.allowed(in: scope).map(\.rawValue)
        var thresholds: [BudgetThreshold] = []
        for part in text.split(separator: ",") {
            let clause = part.trimmingWhitespace()
            let metricName = String(clause.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
            let sign = clause.dropFirst(metricName.count).trimmingWhitespace()
            guard !metricName.isEmpty, sign.hasPrefix("<") || sign.hasPrefix(">") else {
                throw ProfileError(at: location(of: node),
                                   "'\(path)': '\(clause)' is not a budget; expected METRIC < LIMIT such as \"p95<2ms\""
                                       + (scope == .load ? " or rps >= N" : ""))
            }
            guard let metric = BudgetMetric(rawValue: metricName), names.contains(metricName) else {
                var message = "'\(path)': unknown metric '\(metricName)' for \(scope.rawValue)"
                if let suggestion = closestMatch(to: metricName, in: names) { message += "; did you mean '\(suggestion)'?" }
                throw ProfileError(at: location(of: node), message + " (expected one of: \(names.joined(separator: ", ")))")
            }
            do {
                let (comparison, limit) = try BudgetThreshold.parse(metric: metric, String(clause.dropFirst(metricName.count)))
                thresholds.append(BudgetThreshold(metric: metric, comparison: comparison, limit: limit))
            } catch {
                throw ProfileError(at: location(of: node), "'\(path).\(metric.rawValue)': \(error.message)")
            }
        }
        return thresholds
    }

    static let regressionKeys = ["latency", "peak_rss", "duration", "cpu_time", "alpha"]

    func regression(_ node: Node) throws(ProfileError) -> RegressionSpec {
        var spec = RegressionSpec()
        for (key, value) in try mapping(node, what: "'regression'", allowed: Self.regressionKeys) {
            let path = "regression.\(key.string)"
            if key.string == "alpha" {
                let text = try scalarText(value, key: path)
                guard let alpha = Double(text), alpha > 0, alpha < 1 else {
                    throw ProfileError(at: location(of: value), "'\(path)': '\(text)' is not a significance level; expected a number such as 0.01")
                }
                spec.alpha = alpha
                continue
            }
            let unit: BudgetMetric = key.string == "peak_rss" ? .peakRss : .duration
            var threshold = RegressionThreshold()
            let parts: [(Node, String)]
            if let pairs = value.mapping {
                parts = try mapping(value, what: "'\(path)'", allowed: ["relative", "absolute"]).map { pair throws(ProfileError) in
                    (pair.value, try scalarText(pair.value, key: "\(path).\(pair.key.string)"))
                }
                _ = pairs
            } else {
                parts = [(value, try scalarText(value, key: path))]
            }
            for (partNode, text) in parts {
                do {
                    try threshold.add(text, unit: unit)
                } catch {
                    throw ProfileError(at: location(of: partNode), "'\(path)': \(error.message)")
                }
            }
            switch key.string {
            case "latency": spec.latency = threshold
            case "peak_rss": spec.peakRss = threshold
            case "duration": spec.duration = threshold
            default: spec.cpuTime = threshold
            }
        }
        return spec
    }
}

extension BudgetSpec {
    /// `confine capacity --budget 'p95<100ms, rps>=200'`: load budgets in the profile's compact
    /// form, with the profile parser's errors (the file named `--budget`).
    public static func load(_ text: String) throws(ProfileError) -> BudgetSpec {
        let quoted = "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
        var spec = try ProfileSpec.parse(yaml: "budgets:\n  load: \(quoted)\n", file: "--budget").budgets ?? BudgetSpec()
        // A metric given twice (`p95<100ms, p95<200ms`): the last one counts, as a later flag does.
        for index in spec.rules.indices {
            var seen = Set<BudgetMetric>()
            spec.rules[index].thresholds = spec.rules[index].thresholds.reversed().filter { seen.insert($0.metric).inserted }.reversed()
        }
        return spec
    }
}
