// The settings asset's inspector, plus "Check connection": lists the server's models with the
// asset's address, token and transport, so a wrong port or a missing --web-address shows up in the
// Editor rather than in a running game.
using System.Linq;
using AvatarForge.Runtime;
using UnityEditor;
using UnityEngine;

namespace AvatarForge.EditorTools
{
    [CustomEditor(typeof(AvatarForgeSettings))]
    public sealed class AvatarForgeSettingsEditor : UnityEditor.Editor
    {
        string report = "";
        bool asking;

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            EditorGUILayout.Space();
            using (new EditorGUI.DisabledScope(asking))
                if (GUILayout.Button(asking ? "Asking the server..." : "Check connection")) CheckConnection();
            if (report.Length > 0) EditorGUILayout.HelpBox(report, MessageType.None);
        }

        // async void: an editor button has nobody to hand a Task to; the body catches nothing
        // because the client returns failures as values.
        async void CheckConnection()
        {
            var settings = (AvatarForgeSettings)target;
            asking = true;
            using (var client = settings.CreateClient())
            {
                var models = await client.ListModelsAsync();
                report = models.IsOk
                    ? string.Join("\n", models.Value.Select(m => string.Format("{0} {1}: {2} px, {3} directions, {4} on {5}",
                          m.Name, m.Version, m.Resolution, m.Directions.Count, m.Backend, m.Device)).ToArray())
                    : models.Status.ToString();
            }
            asking = false;
            Repaint();
        }
    }
}
