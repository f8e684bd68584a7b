/// The release of this build; `inference-autoscaler version` prints it and the API clients send it as User-Agent.
public enum AutoscalerVersion {
    public static let current = "0.1.0"
}
