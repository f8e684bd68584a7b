import Foundation
import KubernetesModel

/// A column of `kubectl get` output, as a CRD's `additionalPrinterColumns` declares it.
public struct PrinterColumn: Sendable, Hashable {
    public var name: String
    /// `string`, `integer`, `number`, `boolean` or `date`.
    public var type: String
    public var jsonPath: String
    public var description: String

    public init(name: String, type: String, jsonPath: String, description: String = "") {
        self.name = name
        self.type = type
        self.jsonPath = jsonPath
        self.description = description
    }
}

/// The `meta.k8s.io/v1` Table that kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), built
/// the way the API server's CRD table convertor does: Name first, then the printer columns, dates as ages.
enum TablePrinting {
    static func wantsTable(_ accept: String?) -> Bool {
        accept?.contains("as=Table") ?? false
    }

    static func table(_ objects: [JSONValue], type: ResourceType, resourceVersion: String?, now: Date) -> JSONValue {
        let columns =
            type.printerColumns.isEmpty
            ? [PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp")] : type.printerColumns
        var definitions: [JSONValue] = [
            .object([
                "name": .string("Name"), "type": .string("string"), "format": .string("name"),
                "description": .string("Name must be unique within a namespace."), "priority": .number(0),
            ])
        ]
        for column in columns {
            definitions.append(
                .object([
                    "name": .string(column.name), "type": .string(column.type == "date" ? "date" : column.type),
                    "format": .string(""), "description": .string(column.description), "priority": .number(0),
                ]))
        }
        let rows: [JSONValue] = objects.map { object in
            var cells: [JSONValue] = [object["metadata"]?["name"] ?? .null]
            for column in columns {
                let value = evaluate(column.jsonPath, in: object)
                if column.type == "date", case .string(let text)? = value, let date = Timestamp.parse(text) {
                    cells.append(.string(age(now.timeIntervalSince(date))))
                } else {
                    cells.append(value ?? .null)
                }
            }
            let metadata = object["metadata"] ?? .object([:])
            return .object([
                "cells": .array(cells),
                "object": .object([
                    "kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                    "metadata": metadata,
                ]),
            ])
        }
        var tableMetadata: [String: JSONValue] = [:]
        if let resourceVersion { tableMetadata["resourceVersion"] = .string(resourceVersion) }
        return .object([
            "kind": .string("Table"), "apiVersion": .string("meta.k8s.io/v1"), "metadata": .object(tableMetadata),
            "columnDefinitions": .array(definitions), "rows": .array(rows),
        ])
    }

    /// The JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`.
    static func evaluate(_ path: String, in object: JSONValue) -> JSONValue? {
        var current: JSONValue? = object
        var rest = Substring(path.hasPrefix(".") ? String(path.dropFirst()) : path)
        while !rest.isEmpty, let value = current {
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if rest.hasPrefix(".") { rest = rest.dropFirst() }
                guard case .array(let items) = value else { return nil }
                if let index = Int(inside) {
                    current = items.indices.contains(index) ? items[index] : nil
                } else if inside.hasPrefix("?(@."), inside.hasSuffix(")"), let equals = inside.range(of: "==") {
                    let key = String(inside[inside.index(inside.startIndex, offsetBy: 4)..<equals.lowerBound])
                    let expected = inside[equals.upperBound..<inside.index(before: inside.endIndex)]
                        .trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
                    current = items.first { $0[key] == .string(expected) }
                } else {
                    return nil
                }
            } else {
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                current = value[String(rest[..<end])]
                rest = rest[end...]
                if rest.hasPrefix(".") { rest = rest.dropFirst() }
            }
        }
        return current
    }

    /// kubectl's short human durations: `45s`, `12m`, `5h`, `3d`.
    static func age(_ seconds: Double) -> String {
        let value = max(0, Int(seconds))
        if value < 120 { return "\(value)s" }
        if value < 3600 * 3 { return "\(value / 60)m" }
        if value < 86400 * 2 { return "\(value / 3600)h" }
        return "\(value / 86400)d"
    }
}
